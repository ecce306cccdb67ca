/* Connection load for the scale comparison, on plain libuv (loopback only).
 *   connections hold PORT COUNT SECONDS   open COUNT idle connections; once all are up print
 *                                         "ready N SECONDS_TO_CONNECT", hold them SECONDS, close them.
 *   connections churn PORT SECONDS        with 16 at a time, connect and reset-close as fast as the
 *                                         server accepts for SECONDS; print "churn CONNECTS_PER_SECOND".
 * Reset-closing (SO_LINGER 0) leaves no TIME_WAIT behind, so churning does not run out of ports.
 * Exit 0 on success, 1 when a connection failed. */
#include <uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uv_loop_t *loop;
static struct sockaddr_in server;
static int target, opened, failed, churning;
static unsigned long churned;
static uint64_t started;
static uv_timer_t timer;

static void on_closed(uv_handle_t *handle) { free(handle); }

static void connect_one(void);

static void on_connect(uv_connect_t *req, int status) {
    uv_tcp_t *tcp = (uv_tcp_t *)req->handle;
    free(req);
    if (status == UV_ECANCELED) return;  /* closed by on_time_up, which also frees it */
    if (status < 0) {
        if (!failed++) fprintf(stderr, "connect: %s\n", uv_strerror(status));
        uv_close((uv_handle_t *)tcp, on_closed);
        return;
    }
    if (churning) {
        uv_tcp_close_reset(tcp, on_closed);
        if (churning == 1) {
            churned++;
            connect_one();
        }
        return;
    }
    if (++opened == target) {
        printf("ready %d %.3f\n", opened, (uv_hrtime() - started) / 1e9);
        fflush(stdout);
    }
}

static void connect_one(void) {
    uv_tcp_t *tcp = malloc(sizeof *tcp);
    uv_connect_t *req = malloc(sizeof *req);
    uv_tcp_init(loop, tcp);
    if (uv_tcp_connect(req, tcp, (const struct sockaddr *)&server, on_connect) != 0) {
        failed++;
        free(req);
        uv_close((uv_handle_t *)tcp, on_closed);
    }
}

static void close_any(uv_handle_t *handle, void *arg) {
    (void)arg;
    if (!uv_is_closing(handle)) uv_close(handle, handle == (uv_handle_t *)&timer ? NULL : on_closed);
}

static void on_time_up(uv_timer_t *t) {
    (void)t;
    if (churning) {
        printf("churn %.0f\n", churned / ((uv_hrtime() - started) / 1e9));
        churning = 2;  /* no more connects */
    }
    uv_walk(loop, close_any, NULL);
}

int main(int argc, char **argv) {
    int hold = argc == 5 && strcmp(argv[1], "hold") == 0;
    int churn = argc == 4 && strcmp(argv[1], "churn") == 0;
    if (!hold && !churn) {
        fprintf(stderr, "usage: connections hold PORT COUNT SECONDS | connections churn PORT SECONDS\n");
        return 2;
    }
    int port = atoi(argv[2]);
    double seconds = atof(argv[hold ? 4 : 3]);
    target = hold ? atoi(argv[3]) : 0;
    if (port <= 0 || seconds <= 0 || seconds > 600 || (hold && (target <= 0 || target > 100000))) {
        fprintf(stderr, "connections: bad arguments\n");
        return 2;
    }
    loop = uv_default_loop();
    uv_ip4_addr("127.0.0.1", port, &server);
    started = uv_hrtime();
    churning = churn;
    for (int i = 0; i < (hold ? target : 16); i++) connect_one();
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_time_up, (uint64_t)(seconds * 1000) + (hold ? 60000 : 0), 0);
    if (hold) {
        /* Hold for SECONDS after everything is up: run until ready, then restart the timer. */
        while (opened + failed < target && uv_run(loop, UV_RUN_ONCE)) {}
        uv_timer_start(&timer, on_time_up, (uint64_t)(seconds * 1000), 0);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return failed ? 1 : 0;
}
