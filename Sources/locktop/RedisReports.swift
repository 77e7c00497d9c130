import Foundation
import LockMonitor
import LockReports
import RecordStore
import RedisMonitor
import RedisStore

/// The JSON of `list --redis --json`: the same lock objects as a directory's, where `redis_key`
/// and `ttl_seconds` take the place of `lock_file`, under the server (never its password).
public enum RedisReports {
    /// The locks of `reader`'s database, judged at one moment.
    public static func judgedLocks(
        _ reader: RedisLockReader, classifier: LockClassifier, environment: MonitorEnvironment
    ) throws -> (locks: [(lock: RedisLockEntry, classification: LockClassification)], now: Date) {
        let now = environment.now()
        let judge = RedisLockJudge(classifier: classifier)
        let locks = try reader.locks(now: now)
        return (locks.map { (lock: $0, classification: judge.classify($0, now: now, environment: environment)) }, now)
    }

    /// `list --json`'s document of `reader`'s database.
    public static func listDocument(_ reader: RedisLockReader, classifier: LockClassifier) throws -> [UInt8] {
        let (locks, now) = try judgedLocks(reader, classifier: classifier, environment: .live)
        return listJSON(
            locks, server: reader.url, prefix: reader.store.prefix, auditLog: AuditLog.defaultLocation().path, now: now)
    }

    /// The whole document.
    public static func listJSON(
        _ locks: [(lock: RedisLockEntry, classification: LockClassification)], server: RedisURL, prefix: String,
        auditLog: String, now: Date
    ) -> [UInt8] {
        var output = [UInt8]()
        JSONValue.encodeObject(
            [
                ("schema", .number(Double(Reports.schemaVersion))),
                ("redis", .string(server.description)),
                ("prefix", .string(prefix)),
                ("audit_log", .string(auditLog)),
                ("generated", .string(Reports.isoTime(now))),
                (
                    "locks",
                    .array(
                        locks.map {
                            .object(
                                Dictionary(
                                    uniqueKeysWithValues: lockJSON($0.lock, classification: $0.classification, now: now)
                                        .map { ($0.key, $0.value) }))
                        })
                ),
            ], into: &output)
        return output + [0x0A]
    }

    /// One lock's members.
    public static func lockJSON(_ lock: RedisLockEntry, classification: LockClassification, now: Date) -> [(
        key: String, value: JSONValue
    )] {
        var members = Reports.lockJSON(
            lock.entry, classification: classification, identity: LockIdentity(), records: [lock.lock.key],
            statistics: nil, now: now
        ).filter { $0.key != "lock_file" && $0.key != "records" && $0.key != "shared" }
        members.append(("redis_key", .string(String(decoding: lock.lock.name, as: UTF8.self))))
        members.append(("ttl_seconds", lock.lock.timeToLive.map { .number(Double($0) / 1000) } ?? .null))
        members.append(("first_seen", .string(Reports.isoTime(lock.entry.acquired))))
        return members
    }
}
