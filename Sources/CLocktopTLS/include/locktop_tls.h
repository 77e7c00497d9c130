#ifndef LOCKTOP_TLS_H
#define LOCKTOP_TLS_H

#include <stddef.h>

/// One TLS session over a connected, nonblocking socket (OpenSSL).
typedef struct locktop_tls locktop_tls;

/// Runs the TLS handshake on `fd` within `timeout_ms`, verifying the server's certificate against
/// `ca_file` (the system's CAs when NULL) and its name or IP against `host`. Returns NULL with a
/// message in `error` when it fails.
locktop_tls *locktop_tls_connect(int fd, const char *host, const char *ca_file, int timeout_ms, char *error, size_t error_size);

/// Reads up to `length` bytes: the count read, 0 when the peer closed, -1 when nothing is there
/// yet (poll for reading), -2 when the session must write first (poll for writing), -3 on error.
long locktop_tls_read(locktop_tls *tls, void *buffer, size_t length);

/// Writes up to `length` bytes: the count written, or -1 / -2 / -3 as `locktop_tls_read`.
long locktop_tls_write(locktop_tls *tls, const void *buffer, size_t length);

/// Closes the session (not the socket) and frees it.
void locktop_tls_free(locktop_tls *tls);

/// A server's TLS context: its certificate chain and private key (OpenSSL).
typedef struct locktop_tls_server locktop_tls_server;

/// Reads the PEM certificate chain and private key, and checks that they match. Returns NULL with
/// a message in `error` when it cannot.
locktop_tls_server *locktop_tls_server_new(const char *chain_file, const char *key_file, char *error, size_t error_size);

/// Runs a server's TLS handshake on the connected, nonblocking socket `fd` within `timeout_ms`.
/// Returns NULL with a message in `error` when it fails.
locktop_tls *locktop_tls_accept(locktop_tls_server *server, int fd, int timeout_ms, char *error, size_t error_size);

/// Relays bytes between the TLS session on `tls_fd` and the plain, nonblocking socket `plain_fd`
/// until either side closes or fails.
void locktop_tls_relay(locktop_tls *tls, int tls_fd, int plain_fd);

/// A listening TCP socket on the IPv4 `address` and `port` (SO_REUSEADDR, close-on-exec), or -1
/// with errno set.
int locktop_tcp_listen(const char *address, int port);

/// The next connection on `listener`, nonblocking and close-on-exec, or -1 with errno set.
int locktop_tcp_accept(int listener);

/// A nonblocking socket connected to the Unix socket at `path`, or -1 with errno set.
int locktop_unix_connect(const char *path);

#endif
