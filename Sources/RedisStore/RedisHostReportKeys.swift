/// Where agents publish their host reports in Redis (`locktop agent --publish redis://…`): each
/// host's report at `locktop:agent:<host>`, expiring after three intervals (`PX`), and the sorted
/// set `locktop:agents` of host names scored by when each last published, in milliseconds of the
/// server's own clock (`TIME`). A reader ages every report by that clock, and tells an agent gone
/// silent (in the set, its report expired) from one that never published.
public final class RedisHostReportKeys {
    /// The connection used; one call at a time.
    public let connection: RedisConnection

    /// The prefix of each host's report key.
    public static let reportPrefix = "locktop:agent:"
    /// The sorted set of publishing hosts.
    public static let indexName = "locktop:agents"
    /// A host that has not published for this many seconds leaves the set.
    public static let forgottenAfter = 7 * 24 * 3600

    /// One host's entry: when it last published, by the server's clock, and its report's bytes
    /// (nil once the report expired, or when it was not read again: see ``isUnchanged``).
    public struct Entry: Equatable, Sendable {
        public var hostName: String
        public var publishedAt: Int
        public var report: [UInt8]?
        /// Whether its report was left unread, the caller having it from this same publication.
        public var isUnchanged = false
    }

    /// What one read found: the server's time, and each host's entry, newest first.
    public struct Listing: Equatable, Sendable {
        public var serverTime: Int
        public var entries: [Entry]
    }

    /// Writes the report, its expiry and the index entry at once, stamped by the server's clock.
    static let publishScript = """
        local now = redis.call('TIME')
        local milliseconds = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        redis.call('ZADD', KEYS[2], milliseconds, ARGV[3])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', milliseconds - tonumber(ARGV[4]) * 1000)
        return milliseconds
        """

    /// Keys on the database of `connection`.
    public init(connection: RedisConnection) {
        self.connection = connection
    }

    /// The report key of `host`.
    public static func reportName(ofHost host: String) -> [UInt8] { Array((reportPrefix + host).utf8) }

    /// Publishes `report` as `host`'s, expiring in `timeToLive` milliseconds; returns the server's
    /// time of the write, in milliseconds.
    @discardableResult
    public func publish(_ report: [UInt8], host: String, timeToLive: Int) throws(RedisError) -> Int {
        try connection.evaluate(
            Self.publishScript, keys: [Self.reportName(ofHost: host), Array(Self.indexName.utf8)],
            arguments: [
                report, Array(String(max(1, timeToLive)).utf8), Array(host.utf8),
                Array(String(Self.forgottenAfter).utf8),
            ])
    }

    /// The report `host` last published, nil when there is none (or it expired).
    public func report(ofHost host: String, maximumSize: Int) throws(RedisError) -> [UInt8]? {
        let reply = try connection.pipeline(
            [RedisConnection.prefixCommand(of: Self.reportName(ofHost: host), maximumLength: maximumSize)],
            maximumBulkLength: maximumSize)[0]
        if case .error(let message) = reply { throw .server("GETRANGE: \(message)") }
        guard let bytes = reply.bytes, !bytes.isEmpty else { return nil }
        return bytes
    }

    /// The newest `maximumHosts` entries of the index, with the server's time, in one round trip,
    /// and their reports in batches, each read up to `maximumSize` bytes, while the bytes read
    /// stay within `budget` (the entries past it come without their report). A host whose
    /// publication time is `known` already is not read again.
    public func listing(maximumHosts: Int, maximumSize: Int, budget: Int, known: [String: Int] = [:])
        throws(RedisError) -> Listing
    {
        let head = try connection.pipeline(
            [
                [Array("TIME".utf8)],
                [
                    Array("ZREVRANGE".utf8), Array(Self.indexName.utf8), Array("0".utf8),
                    Array(String(max(0, maximumHosts - 1)).utf8), Array("WITHSCORES".utf8),
                ],
            ], maximumBulkLength: 4096)
        guard let time = head[0].elements, time.count == 2, let seconds = time[0].integer,
            let microseconds = time[1].integer
        else { throw .protocolViolation("TIME reply") }
        if case .error(let message) = head[1] { throw .server("ZREVRANGE: \(message)") }
        let flat = head[1].elements ?? []
        var entries: [Entry] = []
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            guard let name = flat[index].text, let score = flat[index + 1].text.flatMap({ Double($0) }),
                score.isFinite, abs(score) < 1e15
            else { continue }
            entries.append(
                Entry(hostName: name, publishedAt: Int(score), report: nil, isUnchanged: known[name] == Int(score)))
        }
        let unread = entries.indices.filter { !entries[$0].isUnchanged }
        var spent = 0
        var start = 0
        while start < unread.count, spent < budget {
            let batch = unread[start..<min(unread.count, start + 16)]
            let replies = try connection.pipeline(
                batch.map {
                    RedisConnection.prefixCommand(
                        of: Self.reportName(ofHost: entries[$0].hostName), maximumLength: maximumSize)
                }, maximumBulkLength: maximumSize)
            for (index, reply) in zip(batch, replies) {
                guard let bytes = reply.bytes, !bytes.isEmpty else { continue }
                entries[index].report = bytes
                spent += bytes.count
            }
            start += batch.count
        }
        return Listing(serverTime: seconds * 1000 + microseconds / 1000, entries: entries)
    }
}
