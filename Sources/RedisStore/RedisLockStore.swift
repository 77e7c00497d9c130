/// The prefect-redis locks of one database: `SET <prefix><key> <holder> NX [PX ms]` to take one,
/// a compare-and-delete script to release or break one (only while it holds the judged token),
/// `SCAN` with pipelined `GETRANGE`/`PTTL` to list them all.
public final class RedisLockStore {
    /// The connection used; one call at a time.
    public let connection: RedisConnection
    /// The key prefix, `lock:` for prefect-redis.
    public let prefix: String
    /// How many keys one `SCAN` step asks for.
    public var scanCount = 1000

    /// Deletes the key only while it holds the token given: redis-py's release, and a safe break.
    static let compareAndDelete = """
        if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
        """
    /// ``compareAndDelete``, with the companion `KEYS[2]` deleted too when its JSON names the same
    /// token (a later holder's stays).
    static let compareAndDeleteWithRecord = """
        if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
        local record = redis.call('get', KEYS[2])
        if record then
          local ok, identity = pcall(cjson.decode, record)
          if ok and type(identity) == 'table' and identity['holder'] == ARGV[1] then redis.call('del', KEYS[2]) end
        end
        return redis.call('del', KEYS[1])
        """
    /// Sets a new TTL only while the key holds the token given: a lease renewal.
    static let compareAndExpire = """
        if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end
        """

    public init(connection: RedisConnection, prefix: String = "lock:") {
        self.connection = connection
        self.prefix = prefix
    }

    /// The Redis key of record `key`.
    public func name(forKey key: String) -> [UInt8] { Array((prefix + key).utf8) }

    /// Where the Prefect helper (`LocktopRedisLockManager`) writes who holds a lock: `locktop:holder:<key>`.
    public static let holderRecordPrefix = "locktop:holder:"
    /// Where the helper's per-process heartbeat keys live: `locktop:alive:<host>:<pid>:<start>`.
    public static let heartbeatPrefix = "locktop:alive:"
    /// The longest heartbeat key name read: a longer one in a companion is not followed.
    public static let maximumHeartbeatNameLength = 255

    /// The companion key of the lock whose whole key is `name` (`lock:task.b` → `locktop:holder:task.b`).
    public func holderRecordName(ofLockNamed name: [UInt8]) -> [UInt8] {
        let prefixBytes = Array(prefix.utf8)
        let key = name.starts(with: prefixBytes) ? Array(name.dropFirst(prefixBytes.count)) : name
        return Array(Self.holderRecordPrefix.utf8) + key
    }

    /// Milliseconds left on each heartbeat key of `names`, by name, with one pipelined round trip
    /// of `PTTL`: `.some(nil)` for a key that is gone, `Int.max` for one without a TTL. A key the
    /// server refused to show (an ACL without `locktop:*`) is left out: it proves nothing.
    public func heartbeatTimesToLive(_ names: [[UInt8]]) throws(RedisError) -> [[UInt8]: Int?] {
        guard !names.isEmpty else { return [:] }
        let replies = try connection.pipeline(names.map { [Array("PTTL".utf8), $0] }, maximumBulkLength: 64)
        var timesToLive: [[UInt8]: Int?] = [:]
        for (name, reply) in zip(names, replies) {
            guard let milliseconds = reply.integer else { continue }
            timesToLive[name] = milliseconds == -2 ? nil : (milliseconds < 0 ? Int.max : milliseconds)
        }
        return timesToLive
    }

    /// Every lock: `SCAN MATCH <prefix>*` and, per batch, one pipelined round trip of `GETRANGE`
    /// and `PTTL`. Keys that are not strings or that went meanwhile are left out.
    public func locks() throws(RedisError) -> [RedisLock] {
        var locks: [RedisLock] = []
        var cursor = "0"
        let pattern = Array((Self.globEscaped(prefix) + "*").utf8)
        // A SCAN visits each key about once: a cursor that never comes back to 0 (a broken or
        // hostile server) is cut off after a few times the rounds the database's size needs.
        let keys = (try? connection.command(["DBSIZE"]))?.integer ?? 0
        let maximumRounds = 3 * (max(0, keys) / max(1, scanCount)) + 16
        var rounds = 0
        repeat {
            rounds += 1
            guard rounds <= maximumRounds else {
                throw .protocolViolation("SCAN did not finish in \(maximumRounds) rounds over \(keys) keys")
            }
            let reply = try connection.command(bytes: [
                Array("SCAN".utf8), Array(cursor.utf8), Array("MATCH".utf8), pattern,
                Array("COUNT".utf8), Array(String(scanCount).utf8),
            ])
            if case .error(let message) = reply { throw .server("SCAN: \(message)") }
            guard let parts = reply.elements, parts.count == 2, let next = parts[0].text,
                let names = parts[1].elements?.compactMap(\.bytes)
            else {
                throw .protocolViolation("SCAN reply")
            }
            cursor = next
            locks += try read(names)
        } while cursor != "0"
        return locks
    }

    /// The lock of record `key`, nil when there is none.
    public func lock(forKey key: String) throws(RedisError) -> RedisLock? {
        try lock(named: name(forKey: key))
    }

    /// The lock whose whole Redis key is `name`, nil when there is none (or it is not a string).
    public func lock(named name: [UInt8]) throws(RedisError) -> RedisLock? {
        try read([name]).first
    }

    /// The most bytes of a lock's value read: a prefect-redis token is a few dozen, and a server
    /// that sends more for one value is refused as soon as it says so. Longer values are read as
    /// their first bytes (`GETRANGE`), as a lock file over its limit is `unreadable`.
    public static let maximumValueLength = 4 * 1024

    /// The locks named `names`, with one round trip: `GETRANGE` (the value, up to
    /// ``maximumValueLength`` bytes) and `PTTL` for each, and `GETRANGE` of each one's companion.
    private func read(_ names: [[UInt8]]) throws(RedisError) -> [RedisLock] {
        guard !names.isEmpty else { return [] }
        let length = Self.maximumValueLength
        let commands =
            names.map { RedisConnection.prefixCommand(of: $0, maximumLength: length) }
            + names.map { [Array("PTTL".utf8), $0] }
            + names.map {
                RedisConnection.prefixCommand(of: holderRecordName(ofLockNamed: $0), maximumLength: length)
            }
        let replies = try connection.pipeline(commands, maximumBulkLength: Self.maximumValueLength)
        let prefixBytes = Array(prefix.utf8)
        var locks: [RedisLock] = []
        for (index, name) in names.enumerated() {
            // A key that is not a string (WRONGTYPE) is no lock; PTTL -2 is a key that went.
            guard case .bulk(let holder?) = replies[index] else { continue }
            let timeToLive = replies[names.count + index]
            if case .error(let message) = timeToLive { throw .server("PTTL: \(message)") }
            guard let ttl = timeToLive.integer, ttl != -2 else { continue }
            let key = name.starts(with: prefixBytes) ? Array(name.dropFirst(prefixBytes.count)) : name
            // An empty string or a key of another type is no companion (GETRANGE answers "" for a missing key).
            var record: [UInt8]?
            if case .bulk(let bytes?) = replies[2 * names.count + index], !bytes.isEmpty { record = bytes }
            locks.append(
                RedisLock(
                    name: name, key: String(decoding: key, as: UTF8.self), holder: holder,
                    timeToLive: ttl >= 0 ? ttl : nil, holderRecord: record))
        }
        return locks
    }

    /// Takes the lock of `key` for `holder` as prefect-redis does (`SET NX`, with `PX` when
    /// `timeToLive` milliseconds are given); false when someone holds it.
    public func acquire(key: String, holder: String, timeToLive: Int? = nil) throws(RedisError) -> Bool {
        var arguments = [Array("SET".utf8), name(forKey: key), Array(holder.utf8), Array("NX".utf8)]
        if let timeToLive { arguments += [Array("PX".utf8), Array(String(timeToLive).utf8)] }
        let reply = try connection.command(bytes: arguments)
        if case .error(let message) = reply { throw .server("SET: \(message)") }
        return reply == .simple("OK")
    }

    /// Deletes the lock named `name` only while it holds `holder`, atomically; false when it holds
    /// another token or is gone: a release, or a break of exactly the lock that was judged.
    /// The helper's companion goes too, unless the server does not let this user touch it.
    public func remove(name: [UInt8], holder: [UInt8]) throws(RedisError) -> Bool {
        do {
            return try connection.evaluate(
                Self.compareAndDeleteWithRecord, keys: [name, holderRecordName(ofLockNamed: name)], arguments: [holder])
                == 1
        } catch .server(let message) where message.hasPrefix("NOPERM") {
            return try connection.evaluate(Self.compareAndDelete, keys: [name], arguments: [holder]) == 1
        }
    }

    /// Sets the lock of `key` to expire in `timeToLive` milliseconds, only while `holder` holds it.
    public func renew(key: String, holder: String, timeToLive: Int) throws(RedisError) -> Bool {
        try connection.evaluate(
            Self.compareAndExpire, keys: [name(forKey: key)],
            arguments: [Array(holder.utf8), Array(String(timeToLive).utf8)]) == 1
    }

    /// `text` with glob characters escaped, for `SCAN MATCH` and `PSUBSCRIBE`.
    public static func globEscaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "*?[]\\".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
