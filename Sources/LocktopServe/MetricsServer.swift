import FlyingFox
import Foundation

/// `locktop serve`'s HTTP side, on FlyingFox: `GET /metrics` (the Prometheus text format) and
/// `GET /healthz`. It changes nothing: every other method and path is 404 or 405.
public struct MetricsServer: Sendable {
    /// Where it listens.
    public let host: String
    public let port: UInt16
    private let metrics: LockMetrics

    /// A server for `metrics` on `host:port` (an IPv4 address).
    public init(metrics: LockMetrics, host: String, port: UInt16) {
        self.metrics = metrics
        self.host = host
        self.port = port
    }

    /// Whether `host` is a loopback address, which only this machine reaches.
    public static func isLoopback(_ host: String) -> Bool {
        host.hasPrefix("127.") || host == "localhost"
    }

    /// Listens and serves until the task is cancelled; throws when it cannot listen.
    public func run() async throws {
        let server = HTTPServer(address: try .inet(ip4: host == "localhost" ? "127.0.0.1" : host, port: port))
        let metrics = self.metrics
        await server.appendRoute("GET /metrics") { _ in
            HTTPResponse(
                statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: Data(metrics.exposition()))
        }
        await server.appendRoute("GET /healthz") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: Data("ok\n".utf8))
        }
        await server.appendRoute("*") { request in
            let known = ["/metrics", "/healthz"].contains(request.path)
            return HTTPResponse(
                statusCode: known ? .methodNotAllowed : .notFound, headers: [.contentType: "text/plain; charset=utf-8"],
                body: Data((known ? "read-only: GET only\n" : "not found\n").utf8))
        }
        try await server.run()
    }
}
