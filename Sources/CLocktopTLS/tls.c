#include "locktop_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

struct locktop_tls {
    SSL_CTX *context;
    SSL *ssl;
};

static void describe(char *error, size_t size, const char *what) {
    unsigned long code = ERR_get_error();
    if (code != 0) {
        char reason[256];
        ERR_error_string_n(code, reason, sizeof reason);
        snprintf(error, size, "%s: %s", what, reason);
    } else {
        snprintf(error, size, "%s", what);
    }
    ERR_clear_error();
}

static long milliseconds_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

locktop_tls *locktop_tls_connect(int fd, const char *host, const char *ca_file, int timeout_ms, char *error, size_t error_size) {
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    if (context == NULL) {
        describe(error, error_size, "cannot make a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    // Writes go out as the socket takes them, from a buffer the caller may move between retries.
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
    int loaded = ca_file != NULL ? SSL_CTX_load_verify_locations(context, ca_file, NULL) : SSL_CTX_set_default_verify_paths(context);
    if (loaded != 1) {
        describe(error, error_size, ca_file != NULL ? "cannot read the CA file" : "cannot read the system's CAs");
        SSL_CTX_free(context);
        return NULL;
    }
    SSL *ssl = SSL_new(context);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        describe(error, error_size, "cannot make a TLS session");
        SSL_free(ssl);
        SSL_CTX_free(context);
        return NULL;
    }
    unsigned char address[16];
    int is_address = inet_pton(AF_INET, host, address) == 1 || inet_pton(AF_INET6, host, address) == 1;
    X509_VERIFY_PARAM *parameters = SSL_get0_param(ssl);
    if (is_address) {
        X509_VERIFY_PARAM_set1_ip_asc(parameters, host);
    } else {
        SSL_set_tlsext_host_name(ssl, host);
        X509_VERIFY_PARAM_set1_host(parameters, host, 0);
    }
    long deadline = milliseconds_now() + timeout_ms;
    for (;;) {
        // SSL_get_error reads the thread's error queue: it must hold nothing from before.
        ERR_clear_error();
        int result = SSL_connect(ssl);
        if (result == 1) break;
        int reason = SSL_get_error(ssl, result);
        short events = reason == SSL_ERROR_WANT_READ ? POLLIN : reason == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        long remaining = deadline - milliseconds_now();
        if (events == 0 || remaining <= 0) {
            long verified = SSL_get_verify_result(ssl);
            if (events != 0) {
                snprintf(error, error_size, "the TLS handshake timed out");
            } else if (verified != X509_V_OK) {
                snprintf(error, error_size, "the server's certificate is not trusted: %s", X509_verify_cert_error_string(verified));
            } else {
                describe(error, error_size, "the TLS handshake failed");
            }
            ERR_clear_error();
            SSL_free(ssl);
            SSL_CTX_free(context);
            return NULL;
        }
        struct pollfd descriptor = {.fd = fd, .events = events, .revents = 0};
        if (poll(&descriptor, 1, (int)remaining) < 0 && errno != EINTR) {
            snprintf(error, error_size, "poll: %s", strerror(errno));
            SSL_free(ssl);
            SSL_CTX_free(context);
            return NULL;
        }
    }
    struct locktop_tls *tls = malloc(sizeof *tls);
    if (tls == NULL) {
        snprintf(error, error_size, "out of memory");
        SSL_free(ssl);
        SSL_CTX_free(context);
        return NULL;
    }
    tls->context = context;
    tls->ssl = ssl;
    return tls;
}

static long outcome(SSL *ssl, int result) {
    if (result > 0) return result;
    switch (SSL_get_error(ssl, result)) {
    case SSL_ERROR_WANT_READ: return -1;
    case SSL_ERROR_WANT_WRITE: return -2;
    case SSL_ERROR_ZERO_RETURN: return 0;
    default:
        ERR_clear_error();
        return -3;
    }
}

long locktop_tls_read(locktop_tls *tls, void *buffer, size_t length) {
    int count = length > 1 << 30 ? 1 << 30 : (int)length;
    ERR_clear_error();
    return outcome(tls->ssl, SSL_read(tls->ssl, buffer, count));
}

long locktop_tls_write(locktop_tls *tls, const void *buffer, size_t length) {
    int count = length > 1 << 30 ? 1 << 30 : (int)length;
    ERR_clear_error();
    return outcome(tls->ssl, SSL_write(tls->ssl, buffer, count));
}

void locktop_tls_free(locktop_tls *tls) {
    if (tls == NULL) return;
    SSL_shutdown(tls->ssl);
    SSL_free(tls->ssl);
    SSL_CTX_free(tls->context);
    free(tls);
}
