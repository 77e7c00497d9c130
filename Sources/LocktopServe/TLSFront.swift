import CLocktopTLS
import Foundation
import Synchronization

/// HTTPS for `serve`, with the system's OpenSSL (as `rediss://` uses it): it accepts TLS
/// connections and relays each one's bytes to the HTTP server, which listens on a Unix socket in a
/// directory only this user can enter. It parses no HTTP; FlyingFox does.
///
/// Unchecked Sendable: its one stored pointer is OpenSSL's server context, which never changes
/// after `init` and which OpenSSL lets many threads make sessions from at once.
public final class TLSFront: @unchecked Sendable {
    private let server: OpaquePointer
    private let connections = Atomic<Int>(0)
    /// The most connections relayed at once; more are closed as they come.
    public static let maximumConnections = 256
    /// How long a client has to finish its handshake, in milliseconds.
    public static let handshakeTimeout: Int32 = 10_000

    /// Why HTTPS cannot be served.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A front with the PEM `certificateChain` and its `privateKey`; throws when they cannot be read
    /// or do not match.
    public init(certificateChain: String, privateKey: String) throws(Failure) {
        var error = [CChar](repeating: 0, count: 512)
        guard let server = locktop_tls_server_new(certificateChain, privateKey, &error, error.count) else {
            let message = error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            throw Failure(description: "--tls-cert/--tls-key: " + String(decoding: message, as: UTF8.self))
        }
        self.server = server
    }

    /// A path for the HTTP server's Unix socket, in a new directory only this user can enter.
    public func privateSocketPath() throws(Failure) -> String {
        var template = Array((NSTemporaryDirectory() + "/locktop-serve-XXXXXX").utf8CString)
        guard let directory = mkdtemp(&template) else {
            throw Failure(description: "cannot make a private directory: \(String(cString: strerror(errno)))")
        }
        return String(cString: directory) + "/http.sock"
    }

    /// Listens on `host:port` (IPv4) and relays each connection to the Unix socket at `path`, on
    /// threads of its own; throws when it cannot listen.
    public func listen(host: String, port: UInt16, forwardingTo path: String) throws(Failure) {
        let listener = locktop_tcp_listen(host == "localhost" ? "127.0.0.1" : host, Int32(port))
        guard listener >= 0 else {
            throw Failure(description: "cannot listen on \(host):\(port): \(String(cString: strerror(errno)))")
        }
        Thread.detachNewThread { [self] in
            while true {
                let client = locktop_tcp_accept(listener)
                guard client >= 0 else {
                    // Out of descriptors or an aborted connection: wait a moment rather than spin.
                    if errno != EINTR && errno != ECONNABORTED { usleep(10_000) }
                    continue
                }
                guard connections.add(1, ordering: .relaxed).newValue <= Self.maximumConnections else {
                    connections.subtract(1, ordering: .relaxed)
                    close(client)
                    continue
                }
                Thread.detachNewThread { [self] in
                    relay(client, to: path)
                    close(client)
                    connections.subtract(1, ordering: .relaxed)
                }
            }
        }
    }

    /// Runs the handshake on `client`, then relays it to the server at `path` until either closes.
    private func relay(_ client: Int32, to path: String) {
        var error = [CChar](repeating: 0, count: 256)
        guard let session = locktop_tls_accept(server, client, Self.handshakeTimeout, &error, error.count) else {
            return
        }
        defer { locktop_tls_free(session) }
        let plain = locktop_unix_connect(path)
        guard plain >= 0 else { return }
        defer { close(plain) }
        locktop_tls_relay(session, client, plain)
    }
}
