/* The handshake load client, on plain libuv and OpenSSL 3 with two memory BIOs: N connections, each over
 * and over: connect, a full TLS handshake (no session resumed; the server's certificate must chain to
 * CAFILE and name "localhost"), one small exchange, close_notify and close, and again. The exchange is a
 * 64-byte message echoed back and checked (MODE echo), or an HTTP/1.1 GET / with "Connection: close" whose
 * answer must be a complete 200 response (MODE http, for a web server).
 * Prints one line: handshakes/s (connections completed per second), p50/p99 of a connection's whole life
 * (connect to last byte), errors; the negotiated protocol and cipher go to stderr.
 * Usage: tls-handshakes PORT CONNECTIONS SECONDS CAFILE [echo|http [EACH]]   (127.0.0.1 only)
 * With EACH, each of the CONNECTIONS stops after that many (for instruction counts per handshake).
 * Exit 0 when every connection succeeded, 1 otherwise. */
#define _GNU_SOURCE  /* strcasestr */
#include "../echo/samples.h"
#include "../echo/run-window.h"
#include "tls-client.h"

enum { echo_size = 64, response_capacity = 4096 };

typedef struct {
    tls_stream_t tls;          /* first: a connection is found from its handle */
    uv_connect_t connect;
    int secured, done;         /* handshake done; exchange done */
    unsigned id;
    unsigned long sequence;    /* connection number in this slot, also the pattern's seed */
    size_t received;
    char response[response_capacity];
    uint64_t started_at;
} connection_t;

static struct sockaddr_in address;
static int running_slots, described, http;
static unsigned long limit, handshakes;
static char read_buffer[64 * 1024];   /* ciphertext from the socket */
static char plaintext[16 * 1024];     /* what SSL_read decrypted */
static SSL_CTX *context;
static unsigned char *pattern;
static const char request[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

static void start(connection_t *c);

static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf) {
    (void)h; (void)s;
    *buf = uv_buf_init(read_buffer, sizeof read_buffer);
}

/* The slot's connection is gone: the next one starts, unless the run is over or the slot made its EACH. */
static void on_closed(uv_handle_t *h) {
    connection_t *c = (connection_t *)h;
    SSL_free(c->tls.ssl);
    c->tls.ssl = NULL;
    open_connections--;
    if (stopping) return;
    if (!limit || c->sequence + 1 < limit) { start(c); return; }
    if (--running_slots == 0) end_window();  /* every slot made its EACH */
}

static void count_error(connection_t *c, const char *what, const char *why) {
    if (stopping) return;
    errors++;
    if (errors <= 5) fprintf(stderr, "tls-handshakes: connection %u.%lu: %s: %s\n", c->id, c->sequence, what, why);
}

static void tls_failure(connection_t *c, const char *what) {
    char reason[256];
    unsigned long code = ERR_get_error();
    ERR_error_string_n(code, reason, sizeof reason);
    long verify = SSL_get_verify_result(c->tls.ssl);
    count_error(c, what, verify != X509_V_OK ? X509_verify_cert_error_string(verify)
                         : code ? reason : "unexpected EOF or I/O error");
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

static void describe(connection_t *c) {
    if (described++) return;
    fprintf(stderr, "tls-handshakes: %s %s\n", SSL_get_version(c->tls.ssl), SSL_get_cipher_name(c->tls.ssl));
}

/* The exchange's request: the 64-byte message, or the GET. */
static void send_request(connection_t *c) {
    const void *bytes = http ? (const void *)request : pattern + pattern_offset(c->sequence, c->id);
    int size = http ? (int)sizeof request - 1 : echo_size;
    ERR_clear_error();
    if (SSL_write(c->tls.ssl, bytes, size) != size) { tls_failure(c, "SSL_write"); finish(c); return; }
    if (tls_drain(&c->tls) != 0) { count_error(c, "write", "refused"); finish(c); }
}

/* Whether the answer so far is complete: all 64 bytes, or a 200 response's head and Content-Length body.
 * Returns -1 when it is wrong. */
static int answer_complete(connection_t *c) {
    if (!http) {
        if (c->received < echo_size) return 0;
        return memcmp(c->response, pattern + pattern_offset(c->sequence, c->id), echo_size) == 0 ? 1 : -1;
    }
    c->response[c->received] = '\0';
    char *end = strstr(c->response, "\r\n\r\n");
    if (!end) return c->received < response_capacity - 1 ? 0 : -1;
    if (strncmp(c->response, "HTTP/1.1 200 ", 13) != 0) return -1;
    const char *length = strcasestr(c->response, "\r\ncontent-length:");
    if (!length || length > end) return -1;
    size_t body = (size_t)strtoul(length + 17, NULL, 10);
    return c->received >= (size_t)(end + 4 - c->response) + body;
}

static void on_plaintext(connection_t *c, const char *bytes, size_t count) {
    size_t room = (http ? response_capacity - 1 : echo_size) - c->received;
    if (count > room) { count_error(c, "answer", "longer than expected"); finish(c); return; }
    memcpy(c->response + c->received, bytes, count);
    c->received += count;
    int complete = answer_complete(c);
    if (complete == 0) return;
    if (complete < 0) {
        count_error(c, "answer", http ? "not a complete 200 response" : "echo mismatch");
        finish(c);
        return;
    }
    c->done = 1;
    if (measuring) {
        handshakes++;
        record_latency(uv_hrtime() - c->started_at);
    }
    finish(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    connection_t *c = (connection_t *)s;
    if (nread == 0) return;
    if (nread < 0) {
        count_error(c, "read", uv_strerror((int)nread));
        uv_close((uv_handle_t *)&c->tls.tcp, on_closed);
        return;
    }
    BIO_write(c->tls.ciphertext_in, buf->base, (int)nread);
    if (!c->secured) {
        ERR_clear_error();
        int rc = SSL_do_handshake(c->tls.ssl);
        if (rc != 1) {
            if (SSL_get_error(c->tls.ssl, rc) == SSL_ERROR_WANT_READ) {
                if (tls_drain(&c->tls) != 0) { count_error(c, "write", "refused"); finish(c); }
                return;
            }
            tls_failure(c, "handshake");
            tls_drain(&c->tls);  /* the alert */
            finish(c);
            return;
        }
        c->secured = 1;
        describe(c);
        if (tls_drain(&c->tls) != 0) { count_error(c, "write", "refused"); finish(c); return; }
        send_request(c);
        if (uv_is_closing((uv_handle_t *)&c->tls.tcp)) return;
    }
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(c->tls.ssl, plaintext, sizeof plaintext);
        if (n > 0) {
            on_plaintext(c, plaintext, (size_t)n);
            if (uv_is_closing((uv_handle_t *)&c->tls.tcp)) return;
            continue;
        }
        int error = SSL_get_error(c->tls.ssl, n);
        if (error == SSL_ERROR_WANT_READ) break;
        if (error == SSL_ERROR_ZERO_RETURN) count_error(c, "answer", "the server closed before it was complete");
        else tls_failure(c, "SSL_read");
        finish(c);
        return;
    }
    if (tls_drain(&c->tls) != 0) { count_error(c, "write", "refused"); finish(c); }
}

static void on_connect(uv_connect_t *req, int status) {
    connection_t *c = req->data;
    if (status < 0) {
        count_error(c, "connect", uv_strerror(status));
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
    if (tls_drain(&c->tls) != 0) { count_error(c, "write", "refused"); finish(c); }
}

/* A new connection in the slot: fresh TCP handle and SSL object. */
static void start(connection_t *c) {
    if (c->started_at) c->sequence++;
    c->secured = c->done = 0;
    c->received = 0;
    c->started_at = uv_hrtime();
    if (!tls_start(&c->tls, context)) { fprintf(stderr, "tls-handshakes: SSL_new failed\n"); exit(1); }
    uv_tcp_init(loop, &c->tls.tcp);
    open_connections++;
    int rc = uv_tcp_connect(&c->connect, &c->tls.tcp, (const struct sockaddr *)&address, on_connect);
    if (rc != 0) {
        count_error(c, "connect", uv_strerror(rc));
        stopping = 1;  /* a refusal here (no ports left, say) would repeat at once, forever */
        if (!measure_end) measure_end = uv_hrtime();
        uv_close((uv_handle_t *)&c->tls.tcp, on_closed);
    }
}

int main(int argc, char **argv) {
    if (argc < 5 || argc > 7) {
        fprintf(stderr, "usage: tls-handshakes PORT CONNECTIONS SECONDS CAFILE [echo|http [EACH]]\n");
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[2]);
    double seconds = atof(argv[3]);
    http = argc >= 6 && strcmp(argv[5], "http") == 0;
    limit = argc == 7 ? strtoul(argv[6], NULL, 10) : 0;
    if (port <= 0 || count <= 0 || seconds <= 0 || seconds > 600 || (argc >= 6 && !http && strcmp(argv[5], "echo"))) {
        fprintf(stderr, "tls-handshakes: bad arguments\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!(context = tls_client_context("tls-handshakes", argv[4]))) return 2;
    uv_ip4_addr("127.0.0.1", port, &address);
    loop = uv_default_loop();
    pattern = make_pattern(echo_size);
    connection_t *connections = calloc((size_t)count, sizeof *connections);
    for (int i = 0; i < count; i++) {
        connections[i].id = (unsigned)i;
        connections[i].connect.data = &connections[i];
        running_slots++;
        start(&connections[i]);
    }
    start_window_with_grace(limit ? 0 : 500, seconds, "tls-handshakes", "unfinished", on_closed);
    uv_run(loop, UV_RUN_DEFAULT);

    errors += tls_failed_writes;
    double elapsed = window_seconds();
    qsort(latencies, latency_count, sizeof *latencies, compare_samples);
    double p50 = latency_count ? latencies[latency_count / 2] / 1e3 : 0;
    double p99 = latency_count ? latencies[latency_count * 99 / 100] / 1e3 : 0;
    printf("handshakes/s %.0f p50_us %.1f p99_us %.1f errors %lu\n", handshakes / elapsed, p50, p99, errors);
    SSL_CTX_free(context);
    return errors ? 1 : 0;
}
