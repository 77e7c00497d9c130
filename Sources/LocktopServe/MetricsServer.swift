import FlyingFox
import FlyingSocks
import Foundation

/// `locktop serve`'s HTTP side, on FlyingFox: `GET /metrics` (Prometheus's text format, or
/// OpenMetrics when asked for), `GET /api/v1/locks` (`list --json`'s document), `GET /api/v1/events`
/// (Server-Sent Events) and `GET /healthz`. It changes nothing: every other method and path is 404
/// or 405.
public struct MetricsServer: Sendable {
    /// Where a server listens: an IPv4 address and port, or a Unix socket (behind ``TLSFront``).
    public enum Address: Sendable {
        case inet(host: String, port: UInt16)
        case unix(path: String)
    }

    public let address: Address
    private let exposition: MetricsExposition
    private let events: EventBroadcast
    private let locks: LockDocuments
    /// The bearer token every endpoint but `/healthz` asks for, nil for none.
    private let token: String?

    /// The paths served.
    static let paths = ["/metrics", "/api/v1/locks", "/api/v1/events", "/healthz"]

    /// A server of `exposition`, `locks` and `events` on `address`; with a `token`, only requests
    /// with `Authorization: Bearer <token>` (Prometheus's `authorization` setting) are answered.
    public init(
        exposition: MetricsExposition, locks: LockDocuments, events: EventBroadcast, address: Address,
        token: String? = nil
    ) {
        self.exposition = exposition
        self.locks = locks
        self.events = events
        self.address = address
        self.token = token
    }

    /// Whether `request` may be answered: no token is asked for, or it carries the token.
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

    /// A plain-text response.
    static func text(_ status: HTTPStatusCode, _ body: String, headers: [HTTPHeader: String] = [:]) -> HTTPResponse {
        HTTPResponse(
            statusCode: status,
            headers: HTTPHeaders(headers.merging([.contentType: "text/plain; charset=utf-8"]) { $1 }),
            body: Data(body.utf8))
    }

    /// The answer to a request without the bearer token.
    static func unauthorized() -> HTTPResponse {
        text(.unauthorized, "a bearer token is needed\n", headers: [HTTPHeader("WWW-Authenticate"): "Bearer"])
    }

    /// Listens and serves until the task is cancelled; throws when it cannot listen.
    public func run() async throws {
        let socketAddress: any SocketAddress =
            switch address {
            case .inet(let host, let port):
                try sockaddr_in.inet(ip4: host == "localhost" ? "127.0.0.1" : host, port: port)
            case .unix(let path): sockaddr_un.unix(path: path)
            }
        // FlyingFox logs every request by default; a metrics endpoint scraped every few seconds logs nothing.
        let server = HTTPServer(address: socketAddress, logger: .disabled)
        let (exposition, locks, events, token) = (self.exposition, self.locks, self.events, self.token)
        await server.appendRoute("GET /metrics") { request in
            guard Self.isAuthorized(request, token: token) else { return Self.unauthorized() }
            let format = MetricsExposition.Format.negotiated(accept: request.headers[HTTPHeader("Accept")])
            return HTTPResponse(
                statusCode: .ok, headers: [.contentType: format.contentType], body: Data(exposition.bytes(format)))
        }
        await server.appendRoute("GET /api/v1/locks") { request in
            guard Self.isAuthorized(request, token: token) else { return Self.unauthorized() }
            let document: [UInt8]
            do throws(LockDocuments.Failure) {
                document = try await locks.document()
            } catch {
                switch error {
                case .busy:
                    return Self.text(
                        .serviceUnavailable, "busy: other requests are reading the locks\n",
                        headers: [HTTPHeader("Retry-After"): "1"])
                case .unreadable(let reason):
                    return Self.text(.internalServerError, "cannot read the locks: \(reason)\n")
                }
            }
            return HTTPResponse(statusCode: .ok, headers: [.contentType: "application/json"], body: Data(document))
        }
        await server.appendRoute("GET /api/v1/events") { request in
            guard Self.isAuthorized(request, token: token) else { return Self.unauthorized() }
            return HTTPResponse(
                statusCode: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: HTTPBodySequence(
                    from: EventBroadcast.Body(stream: events.subscribe()), suggestedBufferSize: 65_536))
        }
        await server.appendRoute("GET /healthz") { _ in Self.text(.ok, "ok\n") }
        await server.appendRoute("*") { request in
            Self.paths.contains(request.path)
                ? Self.text(.methodNotAllowed, "read-only: GET only\n") : Self.text(.notFound, "not found\n")
        }
        try await server.run()
    }
}
