import Foundation

/// Why a Redis call failed. Every message names the server without its password.
public enum RedisError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The URL is not `redis://[user:password@]host[:port][/db]`.
    case invalidURL(String, reason: String)
    /// The server could not be reached.
    case connectionFailed(server: String, reason: String)
    /// The server did not answer within the timeout.
    case timedOut(server: String, operation: String)
    /// The server closed the connection.
    case closed(server: String)
    /// The server answered with an error, such as `NOPERM` or `WRONGPASS`.
    case server(String)
    /// The reply is not RESP.
    case protocolViolation(String)
    /// Something this machine cannot do, such as start the demo's redis-server.
    case unsupported(String)

    public var description: String {
        switch self {
        case let .invalidURL(url, reason): return "invalid Redis URL \"\(url)\": \(reason)"
        case let .connectionFailed(server, reason): return "cannot connect to Redis at \(server): \(reason)"
        case let .timedOut(server, operation): return "Redis at \(server) did not answer \(operation) in time"
        case let .closed(server): return "Redis at \(server) closed the connection"
        case let .server(message): return "Redis said: \(message)"
        case let .protocolViolation(detail): return "Redis reply is not RESP: \(detail)"
        case let .unsupported(detail): return detail
        }
    }
}
