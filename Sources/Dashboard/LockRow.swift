import Foundation
import LockMonitor
import RecordStore

/// One row of the dashboard's table: a lock, or a record that has no lock.
public struct LockRow: Equatable, Sendable, Identifiable {
    /// The lock file name, or `record:<key>` for a record without a lock. Selection follows it.
    public var id: String
    /// The key shown: the lock's key stem, or the record key.
    public var key: String
    /// The lock file name, nil for a record without a lock.
    public var lockName: String?
    /// The lock's state, nil for a record without a lock.
    public var state: LockState?
    /// Why it is in that state.
    public var reason: String
    /// The holder, parsed.
    public var holder: LockHolder?
    /// Whether the holder process lives.
    public var liveness: Liveness?
    /// When the lock expires.
    public var expiration: Date?
    /// When the lock was taken (or the record written).
    public var since: Date?
    /// The record keys mapped to this lock.
    public var records: [String]
    /// Whether several records share this lock file.
    public var shared: Bool
    /// Opens per second of the lock file by waiters.
    public var pollRate: Double
    /// The raw lock JSON.
    public var rawJSON: String
    /// Contention statistics.
    public var statistics: ContentionStatistics
    /// A summary of the first mapped record, when loaded.
    public var recordSummary: String?

    /// Creates a row.
    public init(id: String, key: String, lockName: String?, state: LockState?, reason: String, holder: LockHolder? = nil,
                liveness: Liveness? = nil, expiration: Date? = nil, since: Date? = nil, records: [String] = [],
                shared: Bool = false, pollRate: Double = 0, rawJSON: String = "",
                statistics: ContentionStatistics = ContentionStatistics(), recordSummary: String? = nil) {
        self.id = id
        self.key = key
        self.lockName = lockName
        self.state = state
        self.reason = reason
        self.holder = holder
        self.liveness = liveness
        self.expiration = expiration
        self.since = since
        self.records = records
        self.shared = shared
        self.pollRate = pollRate
        self.rawJSON = rawJSON
        self.statistics = statistics
        self.recordSummary = recordSummary
    }

    /// Whether `X` may break it after one confirmation.
    public var isBreakableWithoutForce: Bool { state?.isBreakableWithoutForce ?? false }

    /// Whether the filter text matches the key, a record or the holder.
    public func matches(_ filter: String) -> Bool {
        guard !filter.isEmpty else { return true }
        let needle = filter.lowercased()
        return key.lowercased().contains(needle) || (holder?.rawValue.lowercased().contains(needle) ?? false)
            || records.contains { $0.lowercased().contains(needle) }
    }
}

/// Everything the dashboard shows from one look at the monitor.
public struct DashboardData: Equatable, Sendable {
    public var recordsDirectory: String
    public var locksDirectory: String
    public var watch: String
    public var rows: [LockRow]
    public var recordCount: Int
    public var lockCount: Int
    public var missingDirectories: [String]

    /// Creates data.
    public init(recordsDirectory: String, locksDirectory: String, watch: String, rows: [LockRow], recordCount: Int,
                lockCount: Int, missingDirectories: [String] = []) {
        self.recordsDirectory = recordsDirectory
        self.locksDirectory = locksDirectory
        self.watch = watch
        self.rows = rows
        self.recordCount = recordCount
        self.lockCount = lockCount
        self.missingDirectories = missingDirectories
    }

    /// How many locks are in `state`.
    public func count(_ state: LockState) -> Int {
        rows.count { $0.state == state }
    }

    /// Builds the rows from the monitor's model, loading the record summary of `detailKey` only.
    public static func build(from monitor: LockMonitor, now: Date, summaryFor detailID: String?) -> DashboardData {
        let snapshot = monitor.snapshot
        var rows: [LockRow] = []
        rows.reserveCapacity(snapshot.locks.count + 64)
        for lock in snapshot.locks.values {
            let classification = monitor.classification(of: lock)
            let records = snapshot.recordKeys(forLock: lock.name)
            var summary: String?
            if detailID == lock.name, let first = records.first {
                summary = RecordSummary.load(path: "\(snapshot.recordsDirectory)/\(first)")?.text
            }
            let statistics = monitor.statistics(forLock: lock.name)
            rows.append(LockRow(id: lock.name, key: lock.key, lockName: lock.name, state: classification.state,
                                reason: classification.reason, holder: lock.holder, liveness: classification.liveness,
                                expiration: lock.content?.expiration, since: lock.acquired, records: records,
                                shared: snapshot.isShared(lock.name), pollRate: statistics.pollRate(now: now),
                                rawJSON: lock.rawText, statistics: statistics, recordSummary: summary))
        }
        for key in snapshot.unlockedRecordKeys.prefix(5000) {
            let record = snapshot.records[key]!
            let id = "record:\(key)"
            let summary = detailID == id ? RecordSummary.load(path: "\(snapshot.recordsDirectory)/\(key)")?.text : nil
            rows.append(LockRow(id: id, key: key, lockName: nil, state: nil, reason: "no lock", since: record.modified,
                                records: [key], recordSummary: summary))
        }
        return DashboardData(recordsDirectory: snapshot.recordsDirectory, locksDirectory: snapshot.locksDirectory,
                             watch: monitor.watchMode.text, rows: rows, recordCount: snapshot.records.count,
                             lockCount: snapshot.locks.count, missingDirectories: monitor.missingDirectories)
    }
}
