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

#endif
