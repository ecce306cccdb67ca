/* The C reference for TLS: an echo server on plain libuv and OpenSSL 3 over two memory BIOs, written the
 * way a careful C user would. Every read is fed to the input BIO, SSL_read is looped until it wants more,
 * each piece of plaintext is handed straight back to SSL_write, and the output BIO is drained once per
 * read: uv_try_write first, a queued copy only for what the kernel did not take. One loop, static buffers,
 * nothing allocated per message. Prints "listening on 127.0.0.1:PORT" like uvdemo; exits 0 on SIGINT/SIGTERM.
 * Usage: reference-tls-echo-server PORT CERT.pem KEY.pem   (binds 127.0.0.1; PORT 0 picks a free one;
 * TLS 1.2 at least, OpenSSL's default ciphers) */
#include <uv.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uv_tcp_t tcp;  /* first: a connection is found from its handle */
    SSL *ssl;
    BIO *ciphertext_in, *ciphertext_out;  /* owned by ssl */
    int closing;
} connection_t;

static char read_buffer[64 * 1024];       /* ciphertext from the socket */
static char plaintext[64 * 1024];         /* what SSL_read decrypted, echoed from here */
static char ciphertext[64 * 1024];        /* drained from the output BIO, written from here */
static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sigint_watcher, sigterm_watcher;
static SSL_CTX *context;

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)handle; (void)suggested;
    *buf = uv_buf_init(read_buffer, sizeof read_buffer);
}

static void on_close(uv_handle_t *handle) {
    connection_t *c = (connection_t *)handle;
    SSL_free(c->ssl);
    free(c);
}

static void close_connection(connection_t *c) {
    c->closing = 1;
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_written(uv_write_t *req, int status) {
    (void)status;
    free(req);  /* request and copied bytes are one allocation */
}

/* Sends what OpenSSL wrote to the output BIO: straight from a static buffer when the kernel takes it all
 * (uv_try_write refuses while earlier bytes are queued, so order holds), a copy queued otherwise. */
static int drain(connection_t *c) {
    int n;
    while ((n = BIO_read(c->ciphertext_out, ciphertext, sizeof ciphertext)) > 0) {
        uv_buf_t buf = uv_buf_init(ciphertext, (unsigned)n);
        int written = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
        if (written == UV_EAGAIN) written = 0;
        if (written < 0) return written;
        if (written == n) continue;
        size_t rest = (size_t)(n - written);
        uv_write_t *req = malloc(sizeof *req + rest);
        memcpy(req + 1, ciphertext + written, rest);
        uv_buf_t tail = uv_buf_init((char *)(req + 1), (unsigned)rest);
        int rc = uv_write(req, (uv_stream_t *)&c->tcp, &tail, 1, on_written);
        if (rc != 0) { free(req); return rc; }
    }
    return 0;
}

static void on_shutdown(uv_shutdown_t *req, int status) {
    (void)status;
    close_connection((connection_t *)req->handle);
    free(req);
}

/* Closes once the queued ciphertext (a close_notify or an alert, perhaps) has reached the kernel. */
static void finish(connection_t *c) {
    if (c->closing) return;
    c->closing = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_shutdown_t *req = malloc(sizeof *req);
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(req);
        close_connection(c);
    }
}

static void report_tls_failure(const char *what) {
    char reason[256];
    unsigned long code = ERR_get_error();
    ERR_error_string_n(code, reason, sizeof reason);
    fprintf(stderr, "reference-tls-echo-server: %s: %s\n", what, code ? reason : "unexpected EOF or I/O error");
    ERR_clear_error();
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    connection_t *c = (connection_t *)stream;
    if (nread == 0 || c->closing) return;
    if (nread < 0) { finish(c); return; }  /* EOF without close_notify: an abort, nothing more to send */
    BIO_write(c->ciphertext_in, buf->base, (int)nread);  /* a memory BIO takes everything */
    int failed = 0;
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(c->ssl, plaintext, sizeof plaintext);
        if (n > 0) {
            /* Into a memory BIO SSL_write writes all or fails. */
            if (SSL_write(c->ssl, plaintext, n) != n) { report_tls_failure("SSL_write"); failed = 1; break; }
            continue;
        }
        int error = SSL_get_error(c->ssl, n);
        if (error == SSL_ERROR_WANT_READ) break;
        if (error == SSL_ERROR_ZERO_RETURN) {  /* the peer's close_notify: answer with ours */
            ERR_clear_error();
            SSL_shutdown(c->ssl);
        } else {
            report_tls_failure("SSL_read");
        }
        failed = 1;
        break;
    }
    /* Handshake messages, echoed records, an alert or a close_notify: whatever OpenSSL wrote goes out. */
    if (drain(c) != 0) { close_connection(c); return; }
    if (failed) finish(c);
}

static void on_connection(uv_stream_t *listener, int status) {
    if (status < 0) { fprintf(stderr, "accept: %s\n", uv_strerror(status)); return; }
    connection_t *c = calloc(1, sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    c->ssl = SSL_new(context);
    c->ciphertext_in = BIO_new(BIO_s_mem());
    c->ciphertext_out = BIO_new(BIO_s_mem());
    SSL_set_bio(c->ssl, c->ciphertext_in, c->ciphertext_out);
    SSL_set_accept_state(c->ssl);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) { close_connection(c); return; }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void close_any(uv_handle_t *handle, void *arg) {
    (void)arg;
    if (uv_is_closing(handle)) return;
    int connection = handle != (uv_handle_t *)&server && handle != (uv_handle_t *)&sigint_watcher
                     && handle != (uv_handle_t *)&sigterm_watcher;
    uv_close(handle, connection ? on_close : NULL);
}

static void on_signal(uv_signal_t *watcher, int signum) {
    (void)watcher; (void)signum;
    uv_walk(loop, close_any, NULL);
}

static SSL_CTX *make_context(const char *certificate, const char *key) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1
        && SSL_CTX_use_certificate_chain_file(ctx, certificate) == 1
        && SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 && SSL_CTX_check_private_key(ctx) == 1) {
        return ctx;
    }
    report_tls_failure(certificate);
    SSL_CTX_free(ctx);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: reference-tls-echo-server PORT CERT.pem KEY.pem\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!(context = make_context(argv[2], argv[3]))) return 2;
    loop = uv_default_loop();
    struct sockaddr_in address;
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &address);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&address, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&server, 511, on_connection);
    if (rc != 0) { fprintf(stderr, "listen: %s\n", uv_strerror(rc)); return 3; }
    uv_signal_init(loop, &sigint_watcher);
    uv_signal_start(&sigint_watcher, on_signal, SIGINT);
    uv_signal_init(loop, &sigterm_watcher);
    uv_signal_start(&sigterm_watcher, on_signal, SIGTERM);
    struct sockaddr_storage bound;
    int length = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &length);
    printf("listening on 127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    SSL_CTX_free(context);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
