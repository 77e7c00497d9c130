import Dashboard
import Foundation
import LockMonitor
import RecordStore

/// Turns the monitor's model into dashboard rows: all of them at start, or only what changed.
public enum DashboardRowBuilder {
    /// At most this many records without a lock get rows (the most recent by key order), so a
    /// directory of a hundred thousand results stays light.
    public static let unlockedRecordLimit = 5000

    /// The row of one lock; `snapshot` is the monitor's, passed in so that building many rows copies it once.
    /// It reads no file: the detail pane's record summary and named process come as ``RowDetails``.
    public static func lockRow(_ lock: LockEntry, snapshot: DirectorySnapshot, monitor: LockMonitor, now: Date)
        -> LockRow
    {
        row(
            of: lock, verdict: monitor.classification(of: lock), statistics: monitor.statistics(forLock: lock.name),
            identity: monitor.identity(of: lock, lookingUpNamedProcess: false), countsWaiters: monitor.countsWaiters,
            records: snapshot.recordKeys(forLock: lock.name), shared: snapshot.isShared(lock.name),
            localHost: monitor.environment.hostName, now: now)
    }

    /// The row of one lock of any source, from its tracker's verdict and statistics: the one row
    /// builder of directories and Redis databases alike.
    static func row(
        of lock: LockEntry, verdict: LockClassification, statistics: ContentionStatistics,
        identity: LockIdentity = LockIdentity(),
        countsWaiters: Bool = false, records: [String] = [], shared: Bool = false, localHost: String,
        now: Date
    ) -> LockRow {
        var row = LockRow(
            id: .lock(lock.name), key: lock.key, lockName: lock.name, state: verdict.state,
            reason: verdict.reason, holder: lock.holder, liveness: verdict.liveness,
            expiration: lock.content?.expiration, since: lock.acquired, records: records,
            shared: shared, pollRate: statistics.pollRate(now: now),
            lockBytes: lock.bytes, holderProcessID: lock.content?.namedProcess.processID,
            statistics: statistics, holderProcess: identity.holderProcess,
            identitySource: verdict.identitySource, waiters: identity.waiters, countsWaiters: countsWaiters,
            prefectRun: PrefectRun(content: lock.content, process: identity.holderProcess),
            blocksWaiters: verdict.isBlocking)
        if let host = verdict.holderHost, host != localHost { row.remoteHost = host }
        (row.evidence, row.judgedBy) = (verdict.evidence, verdict.judgedBy)
        row.noteRecentContention(now: now)
        return row
    }

    /// How the monitor watches, and whether the records are still being read.
    static func watchText(of monitor: LockMonitor) -> String {
        monitor.watchText + (monitor.isLoadingRecords ? ", reading records" : "")
    }

    /// The row of a record that has no lock, with the contention figures its lock file had
    /// while it was held: a hand-off that frees the lock for a moment keeps them in view.
    public static func recordRow(_ record: RecordEntry, monitor: LockMonitor) -> LockRow {
        LockRow(
            id: .record(record.key), key: record.key, lockName: nil, state: nil, reason: "no lock",
            since: record.isPending ? nil : record.modified, records: [record.key],
            statistics: monitor.statistics(forLock: RecordKey.lockFileName(forKey: record.key)))
    }

    /// Every row, from scratch, with at most `recordRowLimit` rows of records without a lock.
    public static func data(from monitor: LockMonitor, now: Date, recordRowLimit: Int = unlockedRecordLimit)
        -> DashboardData
    {
        let snapshot = monitor.snapshot
        var rows: [LockRow] = []
        rows.reserveCapacity(snapshot.locks.count + 64)
        for lock in snapshot.locks.values {
            rows.append(lockRow(lock, snapshot: snapshot, monitor: monitor, now: now))
        }
        for key in snapshot.unlockedRecordKeys(limit: recordRowLimit).keys {
            rows.append(recordRow(snapshot.records[key]!, monitor: monitor))
        }
        var data = DashboardData(
            recordsDirectory: snapshot.recordsDirectory, locksDirectory: snapshot.locksDirectory,
            watch: watchText(of: monitor), rows: rows, recordCount: monitor.recordCount,
            lockCount: snapshot.locks.count, missingDirectories: monitor.missingDirectories)
        data.deadlocks = monitor.deadlocks
        return data
    }

    /// The rows touched by `changes`, against the `shown` data: the changed locks, the records
    /// mapped to them, and changed records. A record gets a row only when it has one already or
    /// fewer than `recordRowLimit` record rows are shown, and a lock row is rebuilt for a
    /// record only when the record came or went: polling settles thousands of records at a time.
    /// The row `detailID` (the detail pane's) is rebuilt too, so its reasons move with the clock.
    public static func patch(
        for changes: MonitorChanges, from monitor: LockMonitor, shown: DashboardData, now: Date,
        detailID: RowID?, recordRowLimit: Int = unlockedRecordLimit
    ) -> DashboardPatch {
        let snapshot = monitor.snapshot
        var upserts: [RowID: LockRow] = [:]
        var removals: Set<RowID> = []
        func refreshLock(_ name: String) {
            if let lock = snapshot.locks[name] {
                upserts[.lock(name)] = lockRow(lock, snapshot: snapshot, monitor: monitor, now: now)
            } else {
                removals.insert(.lock(name))
            }
        }
        var recordRows = shown.recordRowCount
        func refreshRecord(_ key: String) {
            let id = RowID.record(key)
            let isShown = shown.row(withID: id) != nil
            if let record = snapshot.records[key], snapshot.locks[RecordKey.lockFileName(forKey: key)] == nil {
                guard isShown || recordRows < recordRowLimit else { return }
                if !isShown, upserts[id] == nil { recordRows += 1 }
                upserts[id] = recordRow(record, monitor: monitor)
            } else if isShown {
                removals.insert(id)
            }
        }
        for name in changes.locks {
            refreshLock(name)
            for key in snapshot.recordKeys(forLock: name) { refreshRecord(key) }
        }
        for key in changes.records {
            refreshRecord(key)
            let name = RecordKey.lockFileName(forKey: key)
            guard !changes.locks.contains(name), upserts[.lock(name)] == nil, snapshot.locks[name] != nil else {
                continue
            }
            if shown.row(withID: .lock(name))?.records.contains(key) != (snapshot.records[key] != nil) {
                refreshLock(name)
            }
        }
        if let detailID, upserts[detailID] == nil {
            switch detailID {
            case .lock(let name): if snapshot.locks[name] != nil { refreshLock(name) }
            case .record(let key): refreshRecord(key)
            }
        }
        return DashboardPatch(
            upserts: Array(upserts.values), removals: removals.subtracting(upserts.keys),
            recordCount: monitor.recordCount, lockCount: snapshot.locks.count,
            missingDirectories: monitor.missingDirectories, watch: watchText(of: monitor), deadlocks: monitor.deadlocks)
    }
}
