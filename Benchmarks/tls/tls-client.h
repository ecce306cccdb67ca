/* What the two TLS load clients (tls-pingpong, tls-handshakes) share: a context that verifies the server
 * against a CA file, a connection's SSL object between two memory BIOs, and sending what OpenSSL wrote.
 * Header-only: each client is one file plus this (and ../echo/samples.h, ../echo/run-window.h). */
#ifndef TLS_CLIENT_H
#define TLS_CLIENT_H

#include <uv.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A TCP stream with TLS over it; a client's connection starts with one. */
typedef struct {
    uv_tcp_t tcp;                         /* first: the stream is found from its handle */
    SSL *ssl;
    BIO *ciphertext_in, *ciphertext_out;  /* owned by ssl */
} tls_stream_t;

static char tls_ciphertext[64 * 1024];    /* drained from the output BIO */
static unsigned long tls_failed_writes;   /* queued ciphertext the kernel refused (not canceled by a close) */

static inline void tls_on_written(uv_write_t *req, int status) {
    if (status < 0 && status != UV_ECANCELED) tls_failed_writes++;
    free(req);  /* request and copied bytes are one allocation */
}

/* Sends what OpenSSL wrote to the output BIO, in order: straight from a static buffer when the kernel
 * takes it all (uv_try_write refuses while earlier bytes are queued), a copy queued otherwise. */
static inline int tls_drain(tls_stream_t *t) {
    int n;
    while ((n = BIO_read(t->ciphertext_out, tls_ciphertext, sizeof tls_ciphertext)) > 0) {
        uv_buf_t buf = uv_buf_init(tls_ciphertext, (unsigned)n);
        int written = uv_try_write((uv_stream_t *)&t->tcp, &buf, 1);
        if (written == UV_EAGAIN) written = 0;
        if (written < 0) return written;
        if (written == n) continue;
        size_t rest = (size_t)(n - written);
        uv_write_t *req = malloc(sizeof *req + rest);
        memcpy(req + 1, tls_ciphertext + written, rest);
        uv_buf_t tail = uv_buf_init((char *)(req + 1), (unsigned)rest);
        int rc = uv_write(req, (uv_stream_t *)&t->tcp, &tail, 1, tls_on_written);
        if (rc != 0) { free(req); return rc; }
    }
    return 0;
}

/* TLS 1.2 at least, OpenSSL's default ciphers, and the server's certificate must chain to CA_FILE. */
static inline SSL_CTX *tls_client_context(const char *program, const char *ca_file) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1
        && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) == 1) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        return ctx;
    }
    char reason[256];
    ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
    fprintf(stderr, "%s: %s: %s\n", program, ca_file, reason);
    SSL_CTX_free(ctx);
    return NULL;
}

/* A fresh client SSL object for the stream (no session is resumed: every handshake is a full one), sending
 * SNI "localhost" and requiring the certificate to name it. Returns 0 when OpenSSL is out of memory. */
static inline int tls_start(tls_stream_t *t, SSL_CTX *ctx) {
    t->ssl = SSL_new(ctx);
    t->ciphertext_in = BIO_new(BIO_s_mem());
    t->ciphertext_out = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->ciphertext_in || !t->ciphertext_out) {
        SSL_free(t->ssl);
        BIO_free(t->ciphertext_in);
        BIO_free(t->ciphertext_out);
        t->ssl = NULL;
        return 0;
    }
    SSL_set_bio(t->ssl, t->ciphertext_in, t->ciphertext_out);
    SSL_set_connect_state(t->ssl);
    return SSL_set_tlsext_host_name(t->ssl, "localhost") == 1 && SSL_set1_host(t->ssl, "localhost") == 1;
}

#endif
