/* The C reference: a TCP (or Unix-domain) echo server on plain libuv, written the way a careful C user
 * would. One loop, one static read buffer, uv_try_write first and a queued copy only for what the kernel
 * did not take. Prints "listening on HOST:PORT" (or "listening on unix:PATH") like uvdemo, and exits 0
 * on SIGINT/SIGTERM.
 * Usage: reference-echo-server [PORT | unix:PATH]   (binds 127.0.0.1; PORT 0 picks a free one) */
#include <uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char read_buffer[64 * 1024];
static uv_loop_t *loop;
static union { uv_tcp_t tcp; uv_pipe_t pipe; } server;
static const char *unix_path;  /* set when serving a Unix-domain socket */
static uv_signal_t sigint_watcher, sigterm_watcher;

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)handle; (void)suggested;
    *buf = uv_buf_init(read_buffer, sizeof read_buffer);
}

static void on_close(uv_handle_t *handle) { free(handle); }

static void on_written(uv_write_t *req, int status) {
    (void)status;
    free(req);  /* request and copied bytes are one allocation */
}

static void echo(uv_stream_t *stream, const char *bytes, size_t count) {
    uv_buf_t buf = uv_buf_init((char *)bytes, (unsigned)count);
    int written = uv_try_write(stream, &buf, 1);
    if (written == UV_EAGAIN) written = 0;
    if (written < 0) { uv_close((uv_handle_t *)stream, on_close); return; }
    if ((size_t)written == count) return;
    size_t rest = count - (size_t)written;
    uv_write_t *req = malloc(sizeof *req + rest);
    char *copy = (char *)(req + 1);
    memcpy(copy, bytes + written, rest);
    uv_buf_t tail = uv_buf_init(copy, (unsigned)rest);
    if (uv_write(req, stream, &tail, 1, on_written) != 0) {
        free(req);
        uv_close((uv_handle_t *)stream, on_close);
    }
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    (void)status;
    uv_close((uv_handle_t *)req->handle, on_close);
    free(req);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    if (nread > 0) { echo(stream, buf->base, (size_t)nread); return; }
    if (nread == 0) return;
    uv_shutdown_t *req = malloc(sizeof *req);
    if (uv_shutdown(req, stream, on_shutdown) != 0) {
        free(req);
        if (!uv_is_closing((uv_handle_t *)stream)) uv_close((uv_handle_t *)stream, on_close);
    }
}

static void on_connection(uv_stream_t *listener, int status) {
    if (status < 0) { fprintf(stderr, "accept: %s\n", uv_strerror(status)); return; }
    uv_stream_t *client;
    if (unix_path) {
        uv_pipe_t *pipe = malloc(sizeof *pipe);
        uv_pipe_init(loop, pipe, 0);
        client = (uv_stream_t *)pipe;
    } else {
        uv_tcp_t *tcp = malloc(sizeof *tcp);
        uv_tcp_init(loop, tcp);
        client = (uv_stream_t *)tcp;
    }
    if (uv_accept(listener, (uv_stream_t *)client) != 0) { uv_close((uv_handle_t *)client, on_close); return; }
    uv_read_start((uv_stream_t *)client, on_alloc, on_read);
}

static void close_any(uv_handle_t *handle, void *arg) {
    (void)arg;
    if (uv_is_closing(handle)) return;
    uv_close(handle, handle == (uv_handle_t *)&server || handle == (uv_handle_t *)&sigint_watcher
                         || handle == (uv_handle_t *)&sigterm_watcher ? NULL : on_close);
}

static void on_signal(uv_signal_t *watcher, int signum) {
    (void)watcher; (void)signum;
    uv_walk(loop, close_any, NULL);
}

int main(int argc, char **argv) {
    const char *where = argc > 1 ? argv[1] : "9000";
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    int rc;
    if (strncmp(where, "unix:", 5) == 0) {
        unix_path = where + 5;
        unlink(unix_path);
        uv_pipe_init(loop, &server.pipe, 0);
        rc = uv_pipe_bind(&server.pipe, unix_path);
    } else {
        struct sockaddr_in address;
        uv_ip4_addr("127.0.0.1", atoi(where), &address);
        uv_tcp_init(loop, &server.tcp);
        rc = uv_tcp_bind(&server.tcp, (const struct sockaddr *)&address, 0);
    }
    if (rc == 0) rc = uv_listen((uv_stream_t *)&server, 511, on_connection);
    if (rc != 0) { fprintf(stderr, "listen: %s\n", uv_strerror(rc)); return 3; }
    uv_signal_init(loop, &sigint_watcher);
    uv_signal_start(&sigint_watcher, on_signal, SIGINT);
    uv_signal_init(loop, &sigterm_watcher);
    uv_signal_start(&sigterm_watcher, on_signal, SIGTERM);
    if (unix_path) {
        printf("listening on unix:%s\n", unix_path);
    } else {
        struct sockaddr_storage bound;
        int length = sizeof bound;
        uv_tcp_getsockname(&server.tcp, (struct sockaddr *)&bound, &length);
        printf("listening on 127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    }
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    if (unix_path) unlink(unix_path);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
