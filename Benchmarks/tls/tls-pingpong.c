/* The ping-pong load client over TLS, on plain libuv and OpenSSL 3 with two memory BIOs: N connections
 * each make a verified TLS handshake (the server's certificate must chain to CAFILE and name "localhost"),
 * then send one message of SIZE bytes, wait until all SIZE bytes are echoed (checking every byte), and
 * send the next. Prints the same line as pingpong: msgs/s, MiB/s, p50/p99 latency, errors, mismatches;
 * the negotiated protocol and cipher go to stderr. Messages are written as they are in pingpong: the
 * record goes out with uv_try_write, a queued copy only for what the kernel did not take.
 * Usage: tls-pingpong PORT CONNECTIONS SIZE SECONDS CAFILE [MESSAGES]   (127.0.0.1 only)
 * With MESSAGES, each connection stops after that many.
 * Exit 0 when every byte matched and no connection failed, 1 otherwise. */
#include "../echo/samples.h"
#include "../echo/run-window.h"
#include "tls-client.h"

typedef struct {
    tls_stream_t tls;          /* first: a connection is found from its handle */
    uv_connect_t connect;
    int secured;               /* handshake done */
    unsigned id;
    unsigned long sequence;    /* message number, also the pattern's seed */
    size_t received;           /* bytes of the current message echoed so far */
    uint64_t sent_at;
} connection_t;

static size_t message_size;
static int described;
static unsigned long limit;
static unsigned long messages, mismatches;
static char read_buffer[64 * 1024];   /* ciphertext from the socket */
static char plaintext[64 * 1024];     /* what SSL_read decrypted */
static SSL_CTX *context;

static unsigned char *pattern;

static size_t offset_of(const connection_t *c) { return pattern_offset(c->sequence, c->id); }

static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf) {
    (void)h; (void)s;
    *buf = uv_buf_init(read_buffer, sizeof read_buffer);
}

static void on_closed(uv_handle_t *h) {
    connection_t *c = (connection_t *)h;
    SSL_free(c->tls.ssl);
    c->tls.ssl = NULL;
    if (--open_connections == 0 && !stopping) end_window();  /* every connection reached its MESSAGES */
}

static void tls_failure(connection_t *c, const char *what) {
    char reason[256];
    unsigned long code = ERR_get_error();
    ERR_error_string_n(code, reason, sizeof reason);
    long verify = SSL_get_verify_result(c->tls.ssl);
    if (!stopping) {
        fprintf(stderr, "tls-pingpong: connection %u: %s: %s%s%s\n", c->id, what,
                code ? reason : "unexpected EOF or I/O error", verify != X509_V_OK ? "; certificate: " : "",
                verify != X509_V_OK ? X509_verify_cert_error_string(verify) : "");
        errors++;
    }
    ERR_clear_error();
}

/* Ends the connection politely: a close_notify, then the socket. */
static void finish(connection_t *c) {
    if (uv_is_closing((uv_handle_t *)&c->tls.tcp)) return;
    if (c->secured) {
        ERR_clear_error();
        SSL_shutdown(c->tls.ssl);
        tls_drain(&c->tls);
    }
    uv_close((uv_handle_t *)&c->tls.tcp, on_closed);
}

static void send_next(connection_t *c) {
    c->received = 0;
    c->sent_at = uv_hrtime();
    ERR_clear_error();
    if (SSL_write(c->tls.ssl, pattern + offset_of(c), (int)message_size) != (int)message_size) {
        tls_failure(c, "SSL_write");
        finish(c);
        return;
    }
    if (tls_drain(&c->tls) != 0) { errors++; finish(c); }
}

/* One piece of echoed plaintext: checked, and when the message is complete the next one goes out.
 * Returns 0 when the connection is done. */
static int on_plaintext(connection_t *c, const char *bytes, size_t count) {
    if (c->received + count > message_size) { mismatches++; finish(c); return 0; }
    if (memcmp(bytes, pattern + offset_of(c) + c->received, count) != 0) mismatches++;
    c->received += count;
    if (c->received < message_size) return 1;
    if (measuring) {
        messages++;
        record_latency(uv_hrtime() - c->sent_at);
    }
    c->sequence++;
    if (stopping || (limit && c->sequence >= limit)) { finish(c); return 0; }
    send_next(c);
    return !uv_is_closing((uv_handle_t *)&c->tls.tcp);
}

static void describe(connection_t *c) {
    if (described++) return;
    fprintf(stderr, "tls-pingpong: %s %s\n", SSL_get_version(c->tls.ssl), SSL_get_cipher_name(c->tls.ssl));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    connection_t *c = (connection_t *)s;
    if (nread == 0) return;
    if (nread < 0) {
        if (!stopping) {
            fprintf(stderr, "tls-pingpong: connection %u: read: %s\n", c->id, uv_strerror((int)nread));
            errors++;
        }
        uv_close((uv_handle_t *)&c->tls.tcp, on_closed);
        return;
    }
    BIO_write(c->tls.ciphertext_in, buf->base, (int)nread);
    if (!c->secured) {
        ERR_clear_error();
        int rc = SSL_do_handshake(c->tls.ssl);
        if (rc != 1) {
            if (SSL_get_error(c->tls.ssl, rc) == SSL_ERROR_WANT_READ) {
                if (tls_drain(&c->tls) != 0) { errors++; finish(c); }
                return;
            }
            tls_failure(c, "handshake");
            tls_drain(&c->tls);  /* the alert */
            finish(c);
            return;
        }
        c->secured = 1;
        describe(c);
        if (tls_drain(&c->tls) != 0) { errors++; finish(c); return; }
        send_next(c);
        if (uv_is_closing((uv_handle_t *)&c->tls.tcp)) return;
    }
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(c->tls.ssl, plaintext, sizeof plaintext);
        if (n > 0) {
            if (!on_plaintext(c, plaintext, (size_t)n)) return;
            continue;
        }
        if (SSL_get_error(c->tls.ssl, n) == SSL_ERROR_WANT_READ) break;
        tls_failure(c, "SSL_read");
        finish(c);
        return;
    }
    if (tls_drain(&c->tls) != 0) { errors++; finish(c); }  /* a key update's answer, say */
}

static void on_connect(uv_connect_t *req, int status) {
    connection_t *c = req->data;
    if (status < 0) {
        fprintf(stderr, "connect: %s\n", uv_strerror(status));
        errors++;
        uv_close((uv_handle_t *)&c->tls.tcp, on_closed);
        return;
    }
    uv_tcp_nodelay(&c->tls.tcp, 1);
    uv_read_start((uv_stream_t *)&c->tls.tcp, on_alloc, on_read);
    ERR_clear_error();
    int rc = SSL_do_handshake(c->tls.ssl);  /* the ClientHello */
    if (rc != 1 && SSL_get_error(c->tls.ssl, rc) != SSL_ERROR_WANT_READ) {
        tls_failure(c, "handshake");
        finish(c);
        return;
    }
    if (tls_drain(&c->tls) != 0) { errors++; finish(c); }
}

int main(int argc, char **argv) {
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: tls-pingpong PORT CONNECTIONS SIZE SECONDS CAFILE [MESSAGES]\n");
        return 2;
    }
    limit = argc == 7 ? strtoul(argv[6], NULL, 10) : 0;
    int port = atoi(argv[1]), count = atoi(argv[2]);
    message_size = (size_t)atol(argv[3]);
    double seconds = atof(argv[4]);
    if (port <= 0 || count <= 0 || message_size == 0 || message_size > 1 << 30 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "tls-pingpong: bad arguments\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!(context = tls_client_context("tls-pingpong", argv[5]))) return 2;
    struct sockaddr_in address;
    uv_ip4_addr("127.0.0.1", port, &address);
    loop = uv_default_loop();
    pattern = make_pattern(message_size);
    connection_t *connections = calloc((size_t)count, sizeof *connections);
    for (int i = 0; i < count; i++) {
        connection_t *c = &connections[i];
        c->id = (unsigned)i;
        c->connect.data = c;
        if (!tls_start(&c->tls, context)) { fprintf(stderr, "tls-pingpong: SSL_new failed\n"); return 1; }
        uv_tcp_init(loop, &c->tls.tcp);
        uv_tcp_connect(&c->connect, &c->tls.tcp, (const struct sockaddr *)&address, on_connect);
        open_connections++;
    }
    start_window_with_grace(limit ? 0 : 500, seconds, "tls-pingpong", "waiting for an echo", on_closed);
    uv_run(loop, UV_RUN_DEFAULT);

    errors += tls_failed_writes;
    report(messages, message_size, window_seconds(), errors, mismatches);
    SSL_CTX_free(context);
    return errors || mismatches ? 1 : 0;
}
