/* The C reference for UDP: an echo server on plain libuv, written the way a careful C user would:
 * recvmmsg batches (UV_UDP_RECVMMSG and a 20 x 64 KiB buffer), uv_udp_try_send first and a queued
 * copy only when the kernel would block. Prints "listening on HOST:PORT"; exits 0 on SIGINT/SIGTERM.
 * Usage: reference-udp-echo-server [PORT]   (binds 127.0.0.1; PORT 0 picks a free one) */
#include <uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char buffer[20 * 64 * 1024];
static uv_loop_t *loop;
static uv_udp_t server;
static uv_signal_t sigint_watcher, sigterm_watcher;

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)handle; (void)suggested;
    *buf = uv_buf_init(buffer, sizeof buffer);
}

static void on_sent(uv_udp_send_t *req, int status) {
    (void)status;
    free(req);
}

static void on_receive(uv_udp_t *udp, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                       unsigned flags) {
    if (nread < 0 || from == NULL || (flags & UV_UDP_MMSG_FREE)) return;
    uv_buf_t reply = uv_buf_init(buf->base, (unsigned)nread);
    int rc = uv_udp_try_send(udp, &reply, 1, from);
    if (rc != UV_EAGAIN) return;
    uv_udp_send_t *req = malloc(sizeof *req + (size_t)nread);
    memcpy(req + 1, buf->base, (size_t)nread);
    reply = uv_buf_init((char *)(req + 1), (unsigned)nread);
    if (uv_udp_send(req, udp, &reply, 1, from, on_sent) != 0) free(req);
}

static void on_signal(uv_signal_t *watcher, int signum) {
    (void)watcher; (void)signum;
    uv_close((uv_handle_t *)&server, NULL);
    uv_close((uv_handle_t *)&sigint_watcher, NULL);
    uv_close((uv_handle_t *)&sigterm_watcher, NULL);
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 9000;
    struct sockaddr_in address;
    struct sockaddr_storage bound;
    int length = sizeof bound;
    loop = uv_default_loop();
    uv_ip4_addr("127.0.0.1", port, &address);
    uv_udp_init_ex(loop, &server, AF_INET | UV_UDP_RECVMMSG);
    int rc = uv_udp_bind(&server, (const struct sockaddr *)&address, 0);
    if (rc == 0) rc = uv_udp_recv_start(&server, on_alloc, on_receive);
    if (rc != 0) { fprintf(stderr, "bind: %s\n", uv_strerror(rc)); return 3; }
    uv_udp_getsockname(&server, (struct sockaddr *)&bound, &length);
    uv_signal_init(loop, &sigint_watcher);
    uv_signal_start(&sigint_watcher, on_signal, SIGINT);
    uv_signal_init(loop, &sigterm_watcher);
    uv_signal_start(&sigterm_watcher, on_signal, SIGTERM);
    printf("listening on 127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
