import CLocktopTLS
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One blocking RESP2 connection to a Redis server: every call waits at most ``timeout`` in
/// poll(2), so nothing hangs when the server goes away. Not thread-safe: one owner drives it.
public final class RedisConnection {
    /// The server, without its password.
    public let url: RedisURL
    /// How long one call may wait for the server.
    public var timeout: TimeInterval
    /// The socket, to poll beside other descriptors (a subscription's messages arrive on it).
    public let fileDescriptor: Int32
    private var buffer: [UInt8] = []
    private var consumed = 0
    /// The TLS session of a `rediss://` server; nil in plain text.
    private var tls: OpaquePointer?

    /// Connects (over TLS for `rediss://`, trusting `certificateAuthorities`, a PEM file, or else
    /// the system's CAs, and checking the server's name), authenticates (`AUTH`), selects the
    /// database and names the client `name` (`CLIENT SETNAME`; an error there is ignored:
    /// managed Redis may forbid it).
    public init(
        url: RedisURL, timeout: TimeInterval = 5, name: String? = "locktop", certificateAuthorities: String? = nil
    ) throws(RedisError) {
        self.url = url
        self.timeout = timeout
        fileDescriptor = try Self.connect(url, timeout: timeout)
        if url.usesTLS {
            var message = [CChar](repeating: 0, count: 512)
            tls = locktop_tls_connect(
                fileDescriptor, url.host, certificateAuthorities, Int32(timeout * 1000), &message, message.count)
            guard tls != nil else {
                close(fileDescriptor)
                throw .connectionFailed(server: url.description, reason: String(cString: message))
            }
        }
        do {
            if let password = url.password {
                try check(command(url.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]), "AUTH")
            }
            if url.database != 0 { try check(command(["SELECT", String(url.database)]), "SELECT") }
            if let name { _ = try command(["CLIENT", "SETNAME", name]) }
        } catch {
            locktop_tls_free(tls)
            close(fileDescriptor)
            throw error
        }
    }

    deinit {
        locktop_tls_free(tls)
        close(fileDescriptor)
    }

    private func check(_ reply: RESPValue, _ operation: String) throws(RedisError) {
        if case .error(let message) = reply { throw .server("\(operation): \(message)") }
    }

    /// Sends one command and returns its reply; an error reply is returned, not thrown.
    public func command(_ arguments: [String]) throws(RedisError) -> RESPValue {
        try pipeline([arguments.map { Array($0.utf8) }])[0]
    }

    /// Sends one command of raw arguments and returns its reply.
    public func command(bytes arguments: [[UInt8]]) throws(RedisError) -> RESPValue {
        try pipeline([arguments])[0]
    }

    /// Sends `commands` at once and reads their replies, in order: one round trip. A bulk string
    /// in them longer than `maximumBulkLength` ends the connection's use with a protocol violation.
    public func pipeline(_ commands: [[[UInt8]]], maximumBulkLength: Int = RESPValue.maximumLength)
        throws(RedisError) -> [RESPValue]
    {
        try send(commands)
        var replies: [RESPValue] = []
        replies.reserveCapacity(commands.count)
        let deadline = Date().addingTimeInterval(timeout)
        while replies.count < commands.count {
            replies.append(try reply(until: deadline, maximumBulkLength: maximumBulkLength))
        }
        return replies
    }

    /// Runs `script` by its digest (`EVALSHA`), or by its text (`EVAL`) when the server does not
    /// have it yet, and returns its integer reply; an error reply is thrown.
    public func evaluate(_ script: String, keys: [[UInt8]], arguments: [[UInt8]]) throws(RedisError) -> Int {
        let tail = [Array(String(keys.count).utf8)] + keys + arguments
        var reply = try command(bytes: [Array("EVALSHA".utf8), Array(SHA1.hex(Array(script.utf8)).utf8)] + tail)
        if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
            reply = try command(bytes: [Array("EVAL".utf8), Array(script.utf8)] + tail)
        }
        if case .error(let message) = reply { throw .server(message) }
        guard let value = reply.integer else { throw .protocolViolation("script reply") }
        return value
    }

    /// The command that reads at most `maximumLength` bytes of the string `name`: `GETRANGE name 0 N-1`.
    public static func prefixCommand(of name: [UInt8], maximumLength: Int) -> [[UInt8]] {
        [Array("GETRANGE".utf8), name, Array("0".utf8), Array(String(max(1, maximumLength) - 1).utf8)]
    }

    /// Writes `commands` without reading replies (a subscription's come later, as messages).
    public func send(_ commands: [[[UInt8]]]) throws(RedisError) {
        var output: [UInt8] = []
        for command in commands { output += RESPValue.encode(command) }
        let deadline = Date().addingTimeInterval(timeout)
        var offset = 0
        while offset < output.count {
            if let tls {
                let written = output[offset...].withUnsafeBytes { locktop_tls_write(tls, $0.baseAddress!, $0.count) }
                switch written {
                case 1...: offset += written
                case -1: try wait(for: Int16(POLLIN), until: deadline, operation: "a write")
                case -2: try wait(for: Int16(POLLOUT), until: deadline, operation: "a write")
                default: throw .closed(server: url.description)
                }
                continue
            }
            let written = output[offset...].withUnsafeBytes {
                Glibc.send(fileDescriptor, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                offset += written
            } else if written < 0 && (errno == EAGAIN || errno == EINTR) {
                try wait(for: Int16(POLLOUT), until: deadline, operation: "a write")
            } else {
                throw .closed(server: url.description)
            }
        }
    }

    /// The most bytes one reply may take: a server that sends more is broken or hostile. The
    /// longest bulk string fits, with its framing; a parse may briefly copy what is buffered, so a
    /// reply costs at most about three times this.
    public static let maximumReplySize = RESPValue.maximumLength + 64 * 1024

    /// The next reply, waiting until `deadline`. A partial reply is parsed again only when the
    /// socket has nothing more for now or what is pending doubled, so a large reply costs a few
    /// parses, not one per read.
    public func reply(until deadline: Date, maximumBulkLength: Int = RESPValue.maximumLength) throws(RedisError)
        -> RESPValue
    {
        var parsedAt = -1
        while true {
            if buffer.count != parsedAt,
                let value = try RESPValue.parse(buffer, at: &consumed, maximumBulkLength: maximumBulkLength)
            {
                if consumed > 1 << 16 || consumed == buffer.count {
                    buffer.removeFirst(consumed)
                    consumed = 0
                }
                return value
            }
            parsedAt = buffer.count
            let pending = buffer.count - consumed
            var received = false
            while try fill(until: deadline) {
                received = true
                if buffer.count - consumed >= 2 * max(pending, 1 << 16) { break }
            }
            if !received { try wait(for: Int16(POLLIN), until: deadline, operation: "a reply") }
        }
    }

    /// The replies already received (subscription messages), without waiting.
    public func availableReplies() throws(RedisError) -> [RESPValue] {
        _ = try fill()
        var replies: [RESPValue] = []
        while let value = try RESPValue.parse(buffer, at: &consumed) { replies.append(value) }
        buffer.removeFirst(consumed)
        consumed = 0
        return replies
    }

    /// Reads what the socket (and the TLS session) holds, without waiting; false when there was
    /// nothing. Throws when the server closed the connection, `deadline` passed, or a reply grew
    /// past ``maximumReplySize``.
    private func fill(until deadline: Date? = nil) throws(RedisError) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var read = false
        while true {
            let count: Int
            if let tls {
                // TLS may hold decrypted bytes the socket no longer shows: read until it says it wants more.
                let result = chunk.withUnsafeMutableBytes { locktop_tls_read(tls, $0.baseAddress!, $0.count) }
                switch result {
                case 1...: count = result
                case -1, -2: return read
                default: throw .closed(server: url.description)
                }
            } else {
                count = chunk.withUnsafeMutableBytes { recv(fileDescriptor, $0.baseAddress!, $0.count, 0) }
                if count == 0 { throw .closed(server: url.description) }
                if count < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN { return read }
                    throw .closed(server: url.description)
                }
            }
            buffer += chunk[..<count]
            read = true
            if buffer.count - consumed > Self.maximumReplySize {
                throw .protocolViolation(
                    "a reply over \(Self.maximumReplySize / 1024 / 1024) MiB from \(url.description)")
            }
            // A server that never stops sending must not hold the caller past its deadline.
            if let deadline, Date() >= deadline { throw .timedOut(server: url.description, operation: "a reply") }
            // A short read drained a plain socket for now (TLS may still hold decrypted bytes).
            if tls == nil && count < chunk.count { return read }
        }
    }

    private func wait(for events: Int16, until deadline: Date, operation: String) throws(RedisError) {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw .timedOut(server: url.description, operation: operation) }
            var pollDescriptor = pollfd(fd: fileDescriptor, events: events, revents: 0)
            let ready = poll(&pollDescriptor, 1, Int32((remaining * 1000).rounded(.up)))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw .closed(server: url.description) }
        }
    }

    /// A nonblocking, close-on-exec TCP socket connected to `url` within `timeout`.
    private static func connect(_ url: RedisURL, timeout: TimeInterval) throws(RedisError) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(url.host, String(url.port), &hints, &found)
        guard status == 0, let first = found else {
            throw .connectionFailed(server: url.description, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var reason = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let fd = socket(
                address.pointee.ai_family,
                address.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue),
                address.pointee.ai_protocol)
            guard fd >= 0 else {
                reason = String(cString: strerror(errno))
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else {
                reason = String(cString: strerror(errno))
                close(fd)
                continue
            }
            var pollDescriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var ready: Int32
            repeat { ready = poll(&pollDescriptor, 1, Int32(timeout * 1000)) } while ready < 0 && errno == EINTR
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if ready > 0, getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 { return fd }
            reason = ready == 0 ? "timed out after \(timeout)s" : String(cString: strerror(error != 0 ? error : errno))
            close(fd)
        }
        throw .connectionFailed(server: url.description, reason: reason)
    }
}
