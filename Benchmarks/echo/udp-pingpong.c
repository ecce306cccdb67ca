/* A ping-pong load client for UDP echo servers, on plain libuv: N connected sockets each send one
 * datagram of SIZE bytes, wait for its echo (checking every byte), and send the next. A datagram not
 * answered within 500 ms counts as lost and the socket moves on.
 * Prints one line: msgs/s, MiB/s, p50/p99 latency, errors (lost), mismatches.
 * Usage: udp-pingpong PORT SOCKETS SIZE SECONDS   (always 127.0.0.1: loopback only)
 * Exit 0 when every echo matched and none was lost, 1 otherwise. */
#include <uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samples.h"
#include "run-window.h"

typedef struct {
    uv_udp_t udp;
    uv_timer_t lost;
    unsigned id;
    unsigned long sequence;
    uint64_t sent_at;
} endpoint_t;

static size_t message_size;
static unsigned char *pattern;
static unsigned long messages, lost, mismatches;
static char buffer[64 * 1024];

static size_t offset_of(const endpoint_t *e) { return pattern_offset(e->sequence, e->id); }

static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf) {
    (void)h; (void)s;
    *buf = uv_buf_init(buffer, sizeof buffer);
}

static void on_lost(uv_timer_t *t);

static void send_next(endpoint_t *e) {
    if (stopping) {
        uv_close((uv_handle_t *)&e->udp, NULL);
        uv_close((uv_handle_t *)&e->lost, NULL);
        return;
    }
    uv_buf_t buf = uv_buf_init((char *)pattern + offset_of(e), (unsigned)message_size);
    e->sent_at = uv_hrtime();
    if (uv_udp_try_send(&e->udp, &buf, 1, NULL) < 0) lost++;
    uv_timer_start(&e->lost, on_lost, 500, 0);
}

static void on_lost(uv_timer_t *t) {
    endpoint_t *e = t->data;
    lost++;
    e->sequence++;
    send_next(e);
}

static void on_receive(uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                       unsigned flags) {
    endpoint_t *e = (endpoint_t *)udp;
    (void)flags;
    if (nread < 0) { lost++; return; }
    if (from == NULL) return;
    if ((size_t)nread != message_size || memcmp(buf->base, pattern + offset_of(e), message_size) != 0) {
        mismatches++;  /* perhaps a late echo of a datagram given up on: wait for the right one */
        return;
    }
    uv_timer_stop(&e->lost);
    if (measuring) {
        messages++;
        record_latency(uv_hrtime() - e->sent_at);
    }
    e->sequence++;
    send_next(e);
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: udp-pingpong PORT SOCKETS SIZE SECONDS\n"); return 2; }
    int port = atoi(argv[1]), count = atoi(argv[2]);
    message_size = (size_t)atol(argv[3]);
    double seconds = atof(argv[4]);
    if (port <= 0 || count <= 0 || message_size == 0 || message_size > 65507 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "udp-pingpong: bad arguments\n");
        return 2;
    }
    struct sockaddr_in address;
    uv_ip4_addr("127.0.0.1", port, &address);
    loop = uv_default_loop();
    pattern = make_pattern(message_size);
    endpoint_t *endpoints = calloc((size_t)count, sizeof *endpoints);
    for (int i = 0; i < count; i++) {
        endpoint_t *e = &endpoints[i];
        e->id = (unsigned)i;
        uv_udp_init(loop, &e->udp);
        uv_udp_connect(&e->udp, (const struct sockaddr *)&address);
        uv_udp_recv_start(&e->udp, on_alloc, on_receive);
        uv_timer_init(loop, &e->lost);
        e->lost.data = e;
        send_next(e);
    }
    start_window(500, seconds, on_stop_at_once);
    uv_run(loop, UV_RUN_DEFAULT);

    report(messages, message_size, window_seconds(), lost, mismatches);
    return lost || mismatches ? 1 : 0;
}
