import Foundation

/// Where a Redis database is: `redis://[user[:password]@]host[:port][/db]`, as redis-py and
/// prefect-redis take it. The password never appears in ``description``.
public struct RedisURL: Equatable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let database: Int
    public let username: String?
    public private(set) var password: String?
    /// `rediss://`: TLS.
    public let usesTLS: Bool
    /// `redis://host:port/db`, with the user but never the password: what messages and the audit log say.
    public let description: String

    /// Parses `text`; percent-escapes in the user and password are decoded.
    public init(_ text: String) throws(RedisError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw .invalidURL(Self.redacted(text), reason: "expected redis://host:port/db")
        }
        guard scheme == "redis" || scheme == "rediss" else {
            throw .invalidURL(Self.redacted(text), reason: "the scheme is \(scheme), not redis or rediss")
        }
        usesTLS = scheme == "rediss"
        guard let host = components.host, !host.isEmpty else {
            throw .invalidURL(Self.redacted(text), reason: "no host")
        }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? 6379
        guard (1...65535).contains(port) else {
            throw .invalidURL(Self.redacted(text), reason: "port \(port) is out of range")
        }
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if path.isEmpty {
            database = 0
        } else if let number = Int(path), number >= 0 {
            database = number
        } else {
            throw .invalidURL(Self.redacted(text), reason: "the database \"\(path)\" is not a number")
        }
        username = components.percentEncodedUser.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding }
        password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        let user = username.map { "\($0)@" } ?? ""
        let shownHost = self.host.contains(":") ? "[\(self.host)]" : self.host
        description = "\(usesTLS ? "rediss" : "redis")://\(user)\(shownHost):\(port)/\(database)"
    }

    /// The same server with `password` instead (nil keeps the URL's own).
    public func replacingPassword(_ password: String?) -> RedisURL {
        guard let password else { return self }
        var copy = self
        copy.password = password
        return copy
    }

    /// `text` with any password replaced by `***`, for an error about a URL that did not parse.
    static func redacted(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@"), let scheme = text.range(of: "://"), scheme.upperBound < at else {
            return text
        }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}
