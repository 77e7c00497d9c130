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

    /// The entry name of the lock of `key`: the name its file would have, so that its key reads back.
    public static func name(ofKey key: String) -> String {
        key + RecordKey.lockSuffix
    }

    /// The entry of `lock`, first seen at `firstSeen`, read at `now`, on the server `location`.
    public init(_ lock: RedisLock, firstSeen: Date, now: Date, location: String) {
        self.lock = lock
        var raw = stat()
        raw.st_mode = S_IFREG | 0o644
        raw.st_size = lock.holder.count
        let seconds = firstSeen.timeIntervalSince1970.rounded(.down)
        raw.st_mtim.tv_sec = Int(seconds)
        raw.st_mtim.tv_nsec = Int((firstSeen.timeIntervalSince1970 - seconds) * 1e9)
        let expiration = lock.timeToLive.map { now.addingTimeInterval(Double($0) / 1000) }
        let content = LockFileContent(holder: lock.holderText, expiration: expiration)
        let path = "\(location) \(String(decoding: lock.name, as: UTF8.self))"
        entry = LockEntry(
            name: Self.name(ofKey: lock.key), path: path, status: FileSystem.Status(raw), bytes: lock.holder,
            content: content)
    }
}
