import FlyingFox
import Foundation

/// `locktop serve`'s HTTP side, on FlyingFox: `GET /metrics` (the Prometheus text format),
/// `GET /api/v1/events` (Server-Sent Events) and `GET /healthz`. It changes nothing: every other
/// method and path is 404 or 405.
public struct MetricsServer: Sendable {
    /// Where it listens.
    public let host: String
    public let port: UInt16
    private let metrics: LockMetrics
    /// The bearer token `/metrics` asks for, nil for none.
    private let token: String?
    /// The events `/api/v1/events` streams.
    private let events: EventBroadcast

    /// A server for `metrics` on `host:port` (an IPv4 address); with a `token`, `/metrics` answers
    /// only requests with `Authorization: Bearer <token>` (Prometheus's `authorization` setting).
    public init(metrics: LockMetrics, events: EventBroadcast, host: String, port: UInt16, token: String? = nil) {
        self.metrics = metrics
        self.events = events
        self.host = host
        self.port = port
        self.token = token
    }

    /// Whether `request` may read the metrics: no token is asked for, or it carries the token.
    /// The comparison takes the same time wherever the bytes differ.
    static func isAuthorized(_ request: HTTPRequest, token: String?) -> Bool {
        guard let token else { return true }
        let given = Array((request.headers[.authorization] ?? "").utf8)
        let wanted = Array("Bearer \(token)".utf8)
        guard given.count == wanted.count else { return false }
        return zip(given, wanted).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Whether `host` is a loopback address, which only this machine reaches.
    public static func isLoopback(_ host: String) -> Bool {
        host.hasPrefix("127.") || host == "localhost"
    }

    /// Listens and serves until the task is cancelled; throws when it cannot listen.
    public func run() async throws {
        // FlyingFox logs every request by default; a metrics endpoint scraped every few seconds logs nothing.
        let server = HTTPServer(
            address: try .inet(ip4: host == "localhost" ? "127.0.0.1" : host, port: port), logger: .disabled)
        let metrics = self.metrics
        let token = self.token
        await server.appendRoute("GET /metrics") { request in
            guard Self.isAuthorized(request, token: token) else {
                return HTTPResponse(
                    statusCode: .unauthorized,
                    headers: [.contentType: "text/plain; charset=utf-8", HTTPHeader("WWW-Authenticate"): "Bearer"],
                    body: Data("a bearer token is needed\n".utf8))
            }
            return HTTPResponse(
                statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: Data(metrics.exposition()))
        }
        let events = self.events
        await server.appendRoute("GET /api/v1/events") { request in
            guard Self.isAuthorized(request, token: token) else {
                return HTTPResponse(statusCode: .unauthorized, headers: [HTTPHeader("WWW-Authenticate"): "Bearer"])
            }
            return HTTPResponse(
                statusCode: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: HTTPBodySequence(
                    from: EventBroadcast.Body(stream: events.subscribe()), suggestedBufferSize: 65_536))
        }
        await server.appendRoute("GET /healthz") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: Data("ok\n".utf8))
        }
        await server.appendRoute("*") { request in
            let known = ["/metrics", "/healthz", "/api/v1/events"].contains(request.path)
            return HTTPResponse(
                statusCode: known ? .methodNotAllowed : .notFound, headers: [.contentType: "text/plain; charset=utf-8"],
                body: Data((known ? "read-only: GET only\n" : "not found\n").utf8))
        }
        try await server.run()
    }
}
