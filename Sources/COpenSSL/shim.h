// The C side of UVNetTLS: OpenSSL 3 itself plus wrappers for the macros Swift cannot import.
#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/// The lowest protocol version a context accepts (a macro over SSL_CTX_ctrl).
static inline int cssl_ctx_set_min_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_min_proto_version(context, version);
}

/// The key-exchange groups a context offers or accepts, "X25519:P-256" (a macro over SSL_CTX_ctrl).
static inline int cssl_ctx_set_groups(SSL_CTX *context, const char *groups) {
    return (int)SSL_CTX_set1_groups_list(context, groups);
}

/// No renegotiation (an attack surface with no use left) and no compression (it leaks secrets: CRIME).
/// The SSL_OP_* bits are macros Swift cannot import.
static inline void cssl_ctx_refuse_renegotiation_and_compression(SSL_CTX *context) {
    SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
}

/// The server name sent in the ClientHello, SNI (a macro over SSL_ctrl).
static inline int cssl_set_server_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

/// SSL_MODE_* bits for every connection of a context (a macro over SSL_CTX_ctrl).
static inline void cssl_ctx_set_mode(SSL_CTX *context, long mode) {
    SSL_CTX_set_mode(context, mode);
}

/// An empty memory BIO answers "retry" rather than "end of file": the socket may bring more.
static inline void cssl_bio_retry_when_empty(BIO *bio) {
    BIO_set_mem_eof_return(bio, -1);
}

/// Where a memory BIO's unread bytes are, without copying them; returns their count.
static inline long cssl_bio_contents(BIO *bio, char **bytes) {
    return BIO_get_mem_data(bio, bytes);
}

/// The reason part of a packed OpenSSL error code (SSL_R_*, X509_R_*).
static inline int cssl_error_reason(unsigned long code) {
    return ERR_GET_REASON(code);
}

/// The library part of a packed OpenSSL error code (ERR_LIB_SSL, ERR_LIB_SYS, …).
static inline int cssl_error_library(unsigned long code) {
    return ERR_GET_LIB(code);
}

/// How many chars the buffer of cssl_verify_keeping_names holds.
#define CSSL_NAMES_CAPACITY 512

/// The names a certificate is for, for error messages: its DNS and IP subject alternative names,
/// else its common name, joined by ", " into `out` (always NUL-terminated, cut short if it must be).
static inline void cssl_certificate_names(X509 *certificate, char *out, size_t size) {
    if (size == 0) return;
    out[0] = 0;
    size_t used = 0;
    GENERAL_NAMES *names = X509_get_ext_d2i(certificate, NID_subject_alt_name, NULL, NULL);
    int count = names ? sk_GENERAL_NAME_num(names) : 0;
    for (int i = 0; i < count; i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        char text[256] = {0};  /* a DNS name's longest, and more than an address needs */
        if (name->type == GEN_DNS) {
            int length = ASN1_STRING_length(name->d.dNSName);
            if (length > (int)sizeof(text) - 1) length = (int)sizeof(text) - 1;
            memcpy(text, ASN1_STRING_get0_data(name->d.dNSName), (size_t)length);
            /* The peer wrote these bytes: nothing but printable ASCII reaches an error message. */
            for (int c = 0; c < length; c++) {
                if (text[c] < 0x20 || text[c] > 0x7e) text[c] = '?';
            }
        } else if (name->type == GEN_IPADD) {
            int length = ASN1_STRING_length(name->d.iPAddress);
            const unsigned char *address = ASN1_STRING_get0_data(name->d.iPAddress);
            if (length == 4) inet_ntop(AF_INET, address, text, sizeof(text));
            else if (length == 16) inet_ntop(AF_INET6, address, text, sizeof(text));
        } else {
            continue;
        }
        int written = snprintf(out + used, size - used, "%s%s", used ? ", " : "", text);
        if (written < 0 || (size_t)written >= size - used) break;
        used += (size_t)written;
    }
    GENERAL_NAMES_free(names);
    if (used == 0 && X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, out, (int)size) > 0) {
        for (char *c = out; *c; c++) {
            if (*c < 0x20 || *c > 0x7e) *c = '?';
        }
    }
}

/// The verify callback of a client context: verification goes on as OpenSSL decides, but when the
/// host check fails, the certificate's names are written to the buffer of CSSL_NAMES_CAPACITY chars in the
/// connection's ex_data slot 0, since OpenSSL drops a certificate that failed verification.
static inline int cssl_verify_keeping_names(int ok, X509_STORE_CTX *store) {
    int error = X509_STORE_CTX_get_error(store);
    if (!ok && (error == X509_V_ERR_HOSTNAME_MISMATCH || error == X509_V_ERR_IP_ADDRESS_MISMATCH)) {
        SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
        char *names = ssl ? SSL_get_ex_data(ssl, 0) : NULL;
        X509 *certificate = X509_STORE_CTX_get_current_cert(store);
        if (names && certificate) cssl_certificate_names(certificate, names, CSSL_NAMES_CAPACITY);
    }
    return ok;
}

/// A new P-256 key (EVP_EC_gen is a variadic macro).
static inline EVP_PKEY *cssl_generate_p256_key(void) {
    return EVP_EC_gen("P-256");
}

/// Adds an X.509v3 extension written as OpenSSL's configuration text ("critical,CA:TRUE",
/// "DNS:localhost,IP:127.0.0.1") to `certificate`, issued by `issuer`. Returns 1 on success.
static inline int cssl_add_extension(X509 *certificate, X509 *issuer, int nid, const char *value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer, certificate, NULL, NULL, 0);
    X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, &context, nid, value);
    if (!extension) return 0;
    int added = X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
    return added;
}

#endif
