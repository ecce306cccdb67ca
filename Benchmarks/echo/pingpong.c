/* A ping-pong load client for echo servers, on plain libuv: N connections each send one message of
 * SIZE bytes, wait until all SIZE bytes are echoed (checking every byte), and send the next.
 * Prints one line: msgs/s, MiB/s, p50/p99 latency, errors, mismatches.
 * Usage: pingpong PORT|unix:PATH CONNECTIONS SIZE SECONDS [MESSAGES]   (127.0.0.1 or a Unix-domain
 * socket: loopback only)
 * With MESSAGES, each connection stops after that many (for instruction counts per message). 
 * Exit 0 when every byte matched and no connection failed, 1 otherwise. */
#include <uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samples.h"
#include "run-window.h"

typedef struct {
    union { uv_tcp_t tcp; uv_pipe_t pipe; } handle;  /* first: a connection is found from its stream */
    uv_connect_t connect;
    unsigned id;
    unsigned long sequence;    /* message number, also the pattern's seed */
    size_t received;           /* bytes of the current message echoed so far */
    uint64_t sent_at;
} connection_t;

static size_t message_size;
static unsigned long limit;
static unsigned long messages, mismatches;
static char read_buffer[64 * 1024];

static unsigned char *pattern;
static const char *unix_path;  /* set when the server is on a Unix-domain socket */

static size_t offset_of(const connection_t *c) { return pattern_offset(c->sequence, c->id); }

static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf) {
    (void)h; (void)s;
    *buf = uv_buf_init(read_buffer, sizeof read_buffer);
}

static void on_closed(uv_handle_t *h) {
    (void)h;
    if (--open_connections == 0 && !stopping) end_window();  /* every connection reached its MESSAGES */
}

static void finish(connection_t *c) {
    if (!uv_is_closing((uv_handle_t *)&c->handle)) uv_close((uv_handle_t *)&c->handle, on_closed);
}

static void on_written(uv_write_t *req, int status) {
    if (status < 0 && !stopping) errors++;
    free(req);
}

static void send_next(connection_t *c) {
    char *message = (char *)pattern + offset_of(c);
    c->received = 0;
    c->sent_at = uv_hrtime();
    uv_buf_t buf = uv_buf_init(message, (unsigned)message_size);
    int n = uv_try_write((uv_stream_t *)&c->handle, &buf, 1);
    if (n == UV_EAGAIN) n = 0;
    if (n < 0) { errors++; finish(c); return; }
    if ((size_t)n == message_size) return;
    size_t rest = message_size - (size_t)n;
    uv_write_t *req = malloc(sizeof *req + rest);
    memcpy(req + 1, message + n, rest);
    uv_buf_t tail = uv_buf_init((char *)(req + 1), (unsigned)rest);
    uv_write(req, (uv_stream_t *)&c->handle, &tail, 1, on_written);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    connection_t *c = (connection_t *)s;
    if (nread < 0) { if (!stopping) errors++; finish(c); return; }
    if (c->received + (size_t)nread > message_size) { mismatches++; finish(c); return; }
    if (memcmp(buf->base, pattern + offset_of(c) + c->received, (size_t)nread) != 0) mismatches++;
    c->received += (size_t)nread;
    if (c->received < message_size) return;
    if (measuring) {
        messages++;
        record_latency(uv_hrtime() - c->sent_at);
    }
    c->sequence++;
    if (stopping || (limit && c->sequence >= limit)) { finish(c); return; }
    send_next(c);
}

static void on_connect(uv_connect_t *req, int status) {
    connection_t *c = req->data;
    if (status < 0) { fprintf(stderr, "connect: %s\n", uv_strerror(status)); errors++; finish(c); return; }
    if (!unix_path) uv_tcp_nodelay(&c->handle.tcp, 1);
    uv_read_start((uv_stream_t *)&c->handle, on_alloc, on_read);
    send_next(c);
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: pingpong PORT CONNECTIONS SIZE SECONDS [MESSAGES]\n");
        return 2;
    }
    limit = argc == 6 ? strtoul(argv[5], NULL, 10) : 0;
    if (strncmp(argv[1], "unix:", 5) == 0) unix_path = argv[1] + 5;
    int port = unix_path ? 1 : atoi(argv[1]), count = atoi(argv[2]);
    message_size = (size_t)atol(argv[3]);
    double seconds = atof(argv[4]);
    if (port <= 0 || count <= 0 || message_size == 0 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "pingpong: bad arguments\n");
        return 2;
    }
    struct sockaddr_in address;
    uv_ip4_addr("127.0.0.1", port, &address);
    loop = uv_default_loop();
    pattern = make_pattern(message_size);
    connection_t *connections = calloc((size_t)count, sizeof *connections);
    for (int i = 0; i < count; i++) {
        connection_t *c = &connections[i];
        c->id = (unsigned)i;
        c->connect.data = c;
        if (unix_path) {
            uv_pipe_init(loop, &c->handle.pipe, 0);
            uv_pipe_connect(&c->connect, &c->handle.pipe, unix_path, on_connect);
        } else {
            uv_tcp_init(loop, &c->handle.tcp);
            uv_tcp_connect(&c->connect, &c->handle.tcp, (const struct sockaddr *)&address, on_connect);
        }
        open_connections++;
    }
    start_window_with_grace(limit ? 0 : 500, seconds, "pingpong", "waiting for an echo", on_closed);
    uv_run(loop, UV_RUN_DEFAULT);

    report(messages, message_size, window_seconds(), errors, mismatches);
    return errors || mismatches ? 1 : 0;
}
