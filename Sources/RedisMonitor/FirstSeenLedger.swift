import Foundation
import RecordStore
import RedisStore

/// When locktop first saw each Redis lock (its key with its token), kept in a file across runs:
/// a lock with no TTL tells nothing of its age, so "stale after an hour" counts from here.
public struct FirstSeenLedger {
    /// The file, beside the audit log; nil keeps nothing across runs.
    public let path: String?
    private var seen: [String: (holder: String, time: Date)] = [:]
    /// Whether ``seen`` differs from the file.
    private var isDirty = false

    /// The ledger kept in `path`, read now.
    public init(path: String?) {
        self.path = path
        guard let path, let data = (try? StateDirectory.read(path, limit: 16 * 1024 * 1024)) ?? nil else { return }
        seen = Self.parse(data)
    }

    /// The first-seen times of a ledger file's `bytes`; what does not parse is left out.
    static func parse(_ bytes: [UInt8]) -> [String: (holder: String, time: Date)] {
        guard case .object(let members)? = JSONValue.parse(bytes) else { return [:] }
        var seen: [String: (holder: String, time: Date)] = [:]
        for (name, record) in members {
            guard let holder = record["holder"]?.stringValue,
                let time = record["first_seen"]?.stringValue.flatMap(PrefectTimestamp.parse)
            else { continue }
            seen[name] = (holder, time)
        }
        return seen
    }

    /// The ledger beside `auditLog`: `redis-first-seen.json` in the same directory.
    public init(besides auditLog: AuditLog) {
        self.init(path: (auditLog.path as NSString).deletingLastPathComponent + "/redis-first-seen.json")
    }

    /// When `lock` on `server` was first seen, recording `now` when it is new or its token changed.
    public mutating func firstSeen(_ lock: RedisLock, on server: RedisURL, now: Date) -> Date {
        let name = Self.name(lock, on: server)
        if let known = seen[name], known.holder == lock.holderText { return known.time }
        seen[name] = (lock.holderText, now)
        isDirty = true
        return now
    }

    /// Keeps only the locks of `server` in `present` (and every other server's), and writes the
    /// file when that changed anything.
    public mutating func save(keeping present: [RedisLock], on server: RedisURL) {
        let kept = Set(present.map { Self.name($0, on: server) })
        let prefix = server.description + " "
        let before = seen.count
        seen = seen.filter { !$0.key.hasPrefix(prefix) || kept.contains($0.key) }
        guard let path, isDirty || seen.count != before else { return }
        isDirty = false
        var members: [String: JSONValue] = [:]
        for (name, record) in seen {
            members[name] = .object([
                "holder": .string(record.holder), "first_seen": .string(PrefectTimestamp.format(record.time)),
            ])
        }
        var output: [UInt8] = []
        JSONValue.object(members).encode(into: &output)
        try? StateDirectory.replace(path, bytes: output)
    }

    /// The server and the key's bytes in hex: any key, whatever its bytes, as a JSON member name.
    private static func name(_ lock: RedisLock, on server: RedisURL) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(lock.name.count * 2)
        for byte in lock.name {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return server.description + " " + String(decoding: hex, as: UTF8.self)
    }
}
