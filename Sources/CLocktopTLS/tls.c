#define _GNU_SOURCE
#include "locktop_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
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

/// Runs the handshake of `ssl` on the nonblocking socket `fd`, as the server when `accepting`,
/// within `timeout_ms`. Returns 0, or -1 with a message in `error`.
static int handshake(SSL *ssl, int fd, int accepting, int timeout_ms, char *error, size_t error_size) {
    long deadline = milliseconds_now() + timeout_ms;
    for (;;) {
        // SSL_get_error reads the thread's error queue: it must hold nothing from before.
        ERR_clear_error();
        int result = accepting ? SSL_accept(ssl) : SSL_connect(ssl);
        if (result == 1) return 0;
        int reason = SSL_get_error(ssl, result);
        short events = reason == SSL_ERROR_WANT_READ ? POLLIN : reason == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        long remaining = deadline - milliseconds_now();
        if (events == 0 || remaining <= 0) {
            long verified = accepting ? X509_V_OK : SSL_get_verify_result(ssl);
            if (events != 0) {
                snprintf(error, error_size, "the TLS handshake timed out");
            } else if (verified != X509_V_OK) {
                snprintf(error, error_size, "the server's certificate is not trusted: %s", X509_verify_cert_error_string(verified));
            } else {
                describe(error, error_size, "the TLS handshake failed");
            }
            ERR_clear_error();
            return -1;
        }
        struct pollfd descriptor = {.fd = fd, .events = events, .revents = 0};
        if (poll(&descriptor, 1, (int)remaining) < 0 && errno != EINTR) {
            snprintf(error, error_size, "poll: %s", strerror(errno));
            return -1;
        }
    }
}

/// A context for `method`, TLS 1.2 and later; NULL with a message in `error` when it cannot be made.
static SSL_CTX *new_context(const SSL_METHOD *method, char *error, size_t error_size) {
    SSL_CTX *context = SSL_CTX_new(method);
    if (context == NULL) {
        describe(error, error_size, "cannot make a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    // Writes go out as the socket takes them, from a buffer the caller may move between retries.
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return context;
}

locktop_tls *locktop_tls_connect(int fd, const char *host, const char *ca_file, int timeout_ms, char *error, size_t error_size) {
    SSL_CTX *context = new_context(TLS_client_method(), error, error_size);
    if (context == NULL) return NULL;
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
    if (handshake(ssl, fd, 0, timeout_ms, error, error_size) != 0) {
        SSL_free(ssl);
        SSL_CTX_free(context);
        return NULL;
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

struct locktop_tls_server {
    SSL_CTX *context;
};

locktop_tls_server *locktop_tls_server_new(const char *chain_file, const char *key_file, char *error, size_t error_size) {
    SSL_CTX *context = new_context(TLS_server_method(), error, error_size);
    if (context == NULL) return NULL;
    if (SSL_CTX_use_certificate_chain_file(context, chain_file) != 1) {
        describe(error, error_size, "cannot read the certificate chain");
    } else if (SSL_CTX_use_PrivateKey_file(context, key_file, SSL_FILETYPE_PEM) != 1) {
        describe(error, error_size, "cannot read the private key");
    } else if (SSL_CTX_check_private_key(context) != 1) {
        describe(error, error_size, "the private key does not match the certificate");
    } else {
        locktop_tls_server *server = malloc(sizeof *server);
        if (server != NULL) {
            server->context = context;
            return server;
        }
        snprintf(error, error_size, "out of memory");
    }
    SSL_CTX_free(context);
    return NULL;
}

locktop_tls *locktop_tls_accept(locktop_tls_server *server, int fd, int timeout_ms, char *error, size_t error_size) {
    SSL *ssl = SSL_new(server->context);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        describe(error, error_size, "cannot make a TLS session");
        SSL_free(ssl);
        return NULL;
    }
    if (handshake(ssl, fd, 1, timeout_ms, error, error_size) != 0) {
        SSL_free(ssl);
        return NULL;
    }
    struct locktop_tls *tls = malloc(sizeof *tls);
    if (tls == NULL) {
        snprintf(error, error_size, "out of memory");
        SSL_free(ssl);
        return NULL;
    }
    // The session holds a reference to the shared context, which locktop_tls_free gives back.
    SSL_CTX_up_ref(server->context);
    tls->context = server->context;
    tls->ssl = ssl;
    return tls;
}

void locktop_tls_relay(locktop_tls *tls, int tls_fd, int plain_fd) {
    unsigned char up[16384], down[16384];
    size_t up_length = 0, up_offset = 0, down_length = 0, down_offset = 0;
    int plain_open = 1;
    for (;;) {
        short tls_events, plain_events;
        int progress;
        // Moves bytes each way until neither way can move without waiting.
        do {
            tls_events = 0;
            plain_events = 0;
            progress = 0;
            if (up_length == 0) {
                long count = locktop_tls_read(tls, up, sizeof up);
                if (count > 0) {
                    up_length = (size_t)count;
                    up_offset = 0;
                    progress = 1;
                } else if (count == -1) {
                    tls_events |= POLLIN;
                } else if (count == -2) {
                    tls_events |= POLLOUT;
                } else {
                    return;  // the client closed or failed
                }
            }
            if (up_length > 0) {
                ssize_t count = send(plain_fd, up + up_offset, up_length - up_offset, MSG_NOSIGNAL);
                if (count > 0) {
                    up_offset += (size_t)count;
                    if (up_offset == up_length) up_length = 0;
                    progress = 1;
                } else if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                    plain_events |= POLLOUT;
                } else if (!(count < 0 && errno == EINTR)) {
                    return;
                }
            }
            if (plain_open && down_length == 0) {
                ssize_t count = recv(plain_fd, down, sizeof down, 0);
                if (count > 0) {
                    down_length = (size_t)count;
                    down_offset = 0;
                    progress = 1;
                } else if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                    plain_events |= POLLIN;
                } else if (!(count < 0 && errno == EINTR)) {
                    plain_open = 0;
                }
            }
            if (down_length > 0) {
                long count = locktop_tls_write(tls, down + down_offset, down_length - down_offset);
                if (count > 0) {
                    down_offset += (size_t)count;
                    if (down_offset == down_length) down_length = 0;
                    progress = 1;
                } else if (count == -1) {
                    tls_events |= POLLIN;
                } else if (count == -2) {
                    tls_events |= POLLOUT;
                } else {
                    return;
                }
            }
            // The server closed and everything it wrote has gone to the client.
            if (!plain_open && down_length == 0) return;
        } while (progress);
        struct pollfd descriptors[2] = {
            {.fd = tls_fd, .events = tls_events, .revents = 0},
            {.fd = plain_fd, .events = plain_events, .revents = 0},
        };
        if (poll(descriptors, 2, -1) < 0 && errno != EINTR) return;
        // A hang-up or error on either socket ends the relay once nothing more can be read.
        if ((descriptors[0].revents & (POLLERR | POLLNVAL)) || (descriptors[1].revents & (POLLERR | POLLNVAL))) return;
    }
}

int locktop_tcp_listen(const char *address, int port) {
    struct sockaddr_in socket_address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, address, &socket_address.sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (bind(fd, (struct sockaddr *)&socket_address, sizeof socket_address) != 0 || listen(fd, 128) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int locktop_tcp_accept(int listener) {
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

int locktop_unix_connect(const char *path) {
    struct sockaddr_un socket_address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof socket_address.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(socket_address.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&socket_address, sizeof socket_address) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}
