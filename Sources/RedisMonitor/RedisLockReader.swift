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
        let entries = try self.entries(of: locks, now: now)
        keepFirstSeen(of: locks)
        return entries.sorted { $0.lock.key < $1.lock.key }
    }

    /// The lock of record `key` now, nil when there is none.
    public func lock(forKey key: String, now: Date) throws(RedisError) -> RedisLockEntry? {
        try lock(named: store.name(forKey: key), now: now)
    }

    /// The lock whose whole Redis key is `name` now, nil when there is none; `previous` heartbeat
    /// readings date an expiry seen happen.
    public func lock(named name: [UInt8], now: Date, previous: [[UInt8]: RedisHeartbeat] = [:]) throws(RedisError)
        -> RedisLockEntry?
    {
        guard let lock = try store.lock(named: name) else { return nil }
        return try entries(of: [lock], now: now, previous: previous).first
    }

    /// `locks`, read at `now`, as entries dated from when each was first seen, with their
    /// companions' records and the heartbeats those name (one pipelined `PTTL` for them all).
    public func entries(of locks: [RedisLock], now: Date, previous: [[UInt8]: RedisHeartbeat] = [:])
        throws(RedisError) -> [RedisLockEntry]
    {
        let records = locks.map { lock in
            lock.holderRecord.flatMap { RedisHolderRecord(parsing: $0, token: lock.holderText) }
        }
        let heartbeats = try self.heartbeats(
            Set(records.compactMap { $0?.heartbeatName }), now: now, previous: previous)
        return zip(locks, records).map { lock, record in
            RedisLockEntry(
                lock, record: record, heartbeat: record?.heartbeatName.flatMap { heartbeats[$0] },
                firstSeen: firstSeen.firstSeen(lock, on: url, now: now), now: now, location: url.description)
        }
    }

    /// The heartbeat keys `names` read at `now`, by name.
    public func heartbeats(_ names: Set<[UInt8]>, now: Date, previous: [[UInt8]: RedisHeartbeat] = [:])
        throws(RedisError) -> [[UInt8]: RedisHeartbeat]
    {
        try store.heartbeatTimesToLive(Array(names)).reduce(into: [:]) { readings, read in
            readings[read.key] = RedisHeartbeat(timeToLive: read.value, at: now, previous: previous[read.key])
        }
    }

    /// Forgets the first-seen times of the locks not in `present`, and writes the file if that changed it.
    public func keepFirstSeen(of present: [RedisLock]) {
        firstSeen.save(keeping: present, on: url)
    }
}
