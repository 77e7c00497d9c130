import Foundation
import LockMonitor
import RecordStore
import RedisStore

/// Reads a database's prefect-redis locks as ``RedisLockEntry`` values, each dated from when
/// locktop first saw it (kept in a ``FirstSeenLedger`` across runs).
public final class RedisLockReader {
    /// The store read.
    public let store: RedisLockStore
    /// Where the first-seen times are kept.
    public private(set) var firstSeen: FirstSeenLedger

    public init(store: RedisLockStore, firstSeen: FirstSeenLedger) {
        self.store = store
        self.firstSeen = firstSeen
    }

    /// The server, without its password.
    public var url: RedisURL { store.connection.url }

    /// Every lock now, sorted by key; the first-seen file is updated to what is there.
    public func locks(now: Date) throws(RedisError) -> [RedisLockEntry] {
        let locks = try store.locks()
        let entries = locks.map { entry(of: $0, now: now) }
        keepFirstSeen(of: locks)
        return entries.sorted { $0.lock.key < $1.lock.key }
    }

    /// The lock of record `key` now, nil when there is none.
    public func lock(forKey key: String, now: Date) throws(RedisError) -> RedisLockEntry? {
        try lock(named: store.name(forKey: key), now: now)
    }

    /// The lock whose whole Redis key is `name` now, nil when there is none.
    public func lock(named name: [UInt8], now: Date) throws(RedisError) -> RedisLockEntry? {
        try store.lock(named: name).map { entry(of: $0, now: now) }
    }

    /// `lock`, read at `now`, as an entry dated from when it was first seen.
    public func entry(of lock: RedisLock, now: Date) -> RedisLockEntry {
        RedisLockEntry(
            lock, firstSeen: firstSeen.firstSeen(lock, on: url, now: now), now: now, location: url.description)
    }

    /// Forgets the first-seen times of the locks not in `present`, and writes the file if that changed it.
    public func keepFirstSeen(of present: [RedisLock]) {
        firstSeen.save(keeping: present, on: url)
    }
}
