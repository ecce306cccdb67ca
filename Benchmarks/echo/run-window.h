/* The measurement window of the load clients (pingpong, udp-pingpong, tls/tls-pingpong, tls/tls-handshakes):
 * a warm-up that is not counted, SECONDS that are, and the end, after which nothing new starts and what is
 * under way finishes uncounted. Every client ran the same two timers with the same state; they are here
 * once so that the clients measure the same span. Header-only, and static inline as samples.h is: the
 * state below is each client's own, and a client need not use all of it. */
#ifndef ECHO_RUN_WINDOW_H
#define ECHO_RUN_WINDOW_H

#include <uv.h>
#include <stdio.h>

static uv_loop_t *loop;
static uv_timer_t warmup_timer, stop_timer;
static int measuring, stopping;       /* inside the window; past its end */
static int open_connections;          /* a client's connections not yet closed */
static unsigned long errors;          /* the client's; the grace adds the connections it had to close */
static uint64_t measure_start, measure_end;

/* What the grace period says and does about connections still open (start_window_with_grace sets them). */
static const char *window_program, *window_unfinished;
static uv_close_cb window_on_closed;  /* a connection's close callback, so that it is counted as closed */

static inline void on_warm(uv_timer_t *t) { (void)t; measuring = 1; measure_start = uv_hrtime(); }

/* The measured span, in seconds: from the warm-up's end to the window's. */
static inline double window_seconds(void) { return (double)(measure_end - measure_start) / 1e9; }

/* Past the end: nothing more is counted, and measure_end is where the elapsed time stops. */
static inline void close_window(void) {
    measuring = 0;
    stopping = 1;
    measure_end = uv_hrtime();
    uv_close((uv_handle_t *)&warmup_timer, NULL);
}

/* The end with no grace: the stop timer closes too, and the loop runs on only until the client's own
 * handles have closed. For a client whose connections have all made their MESSAGES (none is left to wait
 * for), and for udp-pingpong, whose sockets close at their next send, 500 ms at the most. */
static inline void end_window(void) {
    close_window();
    uv_close((uv_handle_t *)&stop_timer, NULL);
}

static inline void on_stop_at_once(uv_timer_t *t) { (void)t; end_window(); }

static inline void close_any(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, h == (uv_handle_t *)&stop_timer ? NULL : window_on_closed);
}

/* A server that stops answering must not hang the benchmark: two seconds after the end, close all. */
static inline void on_grace_over(uv_timer_t *t) {
    (void)t;
    if (open_connections > 0) {
        fprintf(stderr, "%s: %d connections still %s; closing them\n", window_program, open_connections,
                window_unfinished);
        errors += (unsigned long)open_connections;
    }
    uv_walk(loop, close_any, NULL);
}

/* The end with a grace: the connections under way finish by themselves, and the stop timer waits out the
 * grace unreferenced, so that it does not keep the loop running once they have. */
static inline void on_stop(uv_timer_t *t) {
    close_window();
    uv_timer_start(t, on_grace_over, 2000, 0);
    uv_unref((uv_handle_t *)t);
}

/* Starts the warm-up (WARMUP_MS; 0 when every message is to count) and, after it and SECONDS, ON_END. */
static inline void start_window(uint64_t warmup_ms, double seconds, uv_timer_cb on_end) {
    uv_timer_init(loop, &warmup_timer);
    uv_timer_start(&warmup_timer, on_warm, warmup_ms, 0);
    uv_timer_init(loop, &stop_timer);
    uv_timer_start(&stop_timer, on_end, warmup_ms + (uint64_t)(seconds * 1000), 0);
}

/* The window of a client with connections: at the end on_stop, and after the grace the line
 * "PROGRAM: N connections still UNFINISHED; closing them" on stderr, with each of the N an error. */
static inline void start_window_with_grace(uint64_t warmup_ms, double seconds, const char *program,
                                           const char *unfinished, uv_close_cb on_closed) {
    window_program = program;
    window_unfinished = unfinished;
    window_on_closed = on_closed;
    start_window(warmup_ms, seconds, on_stop);
}

#endif
