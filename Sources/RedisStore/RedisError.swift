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
        case .invalidURL(let url, let reason): return "invalid Redis URL \"\(url)\": \(reason)"
        case .connectionFailed(let server, let reason): return "cannot connect to Redis at \(server): \(reason)"
        case .timedOut(let server, let operation): return "Redis at \(server) did not answer \(operation) in time"
        case .closed(let server): return "Redis at \(server) closed the connection"
        case .server(let message): return "Redis said: \(message)"
        case .protocolViolation(let detail): return "Redis reply is not RESP: \(detail)"
        case .unsupported(let detail): return detail
        }
    }
}
