import Foundation
import LockMonitor
import RecordStore
import RedisStore

/// A prefect-redis lock seen as the monitor's ``LockEntry``, so one classifier, one table and one
/// JSON shape serve both sources: the holder token as the lock's holder, the TTL as its
/// expiration, and the time locktop first saw it (its key and token) as when it was taken.
public struct RedisLockEntry: Equatable, Sendable {
    /// The lock as Redis holds it.
    public var lock: RedisLock
    /// The same lock as the monitor's model.
    public var entry: LockEntry
    /// What the Prefect helper's companion key says of its holder, when it names this token.
    public var record: RedisHolderRecord?
    /// The last reading of the heartbeat key the record names.
    public var heartbeat: RedisHeartbeat?

    /// The entry name of the lock of `key`: the name its file would have, so that its key reads back.
    public static func name(ofKey key: String) -> String {
        key + RecordKey.lockSuffix
    }

    /// The entry of `lock`, first seen at `firstSeen`, read at `now`, on the server `location`,
    /// with its companion's `record` and the `heartbeat` that names.
    public init(
        _ lock: RedisLock, record: RedisHolderRecord? = nil, heartbeat: RedisHeartbeat? = nil, firstSeen: Date,
        now: Date, location: String
    ) {
        self.lock = lock
        self.record = record
        self.heartbeat = record?.heartbeatName == nil ? nil : heartbeat
        var raw = stat()
        raw.st_mode = S_IFREG | 0o644
        raw.st_size = lock.holder.count
        let seconds = firstSeen.timeIntervalSince1970.rounded(.down)
        raw.st_mtim.tv_sec = Int(seconds)
        raw.st_mtim.tv_nsec = Int((firstSeen.timeIntervalSince1970 - seconds) * 1e9)
        let expiration = lock.timeToLive.map { now.addingTimeInterval(Double($0) / 1000) }
        var content = record?.content ?? LockFileContent(holder: lock.holderText, expiration: nil)
        content.expiration = expiration
        let path = "\(location) \(String(decoding: lock.name, as: UTF8.self))"
        entry = LockEntry(
            name: Self.name(ofKey: lock.key), path: path, status: FileSystem.Status(raw), bytes: lock.holder,
            content: content)
    }

    /// What is known of the holder beyond the token: the heartbeat's testimony, and Prefect's word
    /// on the record's flow run. Every surface judges a Redis lock with this.
    public func evidence(environment: MonitorEnvironment, now: Date) -> LockEvidence {
        var evidence = LockEvidence.none
        if let record, let heartbeat, let testimony = record.testimony(of: heartbeat, now: now) {
            evidence.testimonies.append(testimony)
        }
        if let run = record?.content.flowRunID,
            let testimony = environment.flowRunStates?.testimony(ofFlowRun: run, now: now)
        {
            evidence.testimonies.append(testimony)
        }
        return evidence
    }
}
