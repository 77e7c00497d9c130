import Dashboard
import Foundation
import LockMonitor
import RecordStore
import RedisMonitor

/// The dashboard over a Redis database's prefect-redis locks: one row per lock (a Redis database
/// holds no records), breaks by compare-and-delete of the token the operator was shown.
public final class RedisDashboardSource: DashboardSource {
    public let monitor: RedisLockMonitor
    public let breaker: LockBreaker

    public init(monitor: RedisLockMonitor, breaker: LockBreaker) {
        self.monitor = monitor
        self.breaker = breaker
    }

    public var lockSource: LockSource { monitor }

    /// The row of `lock`.
    func row(_ lock: RedisLockEntry, now: Date) -> LockRow {
        DashboardRowBuilder.row(
            of: lock.entry, verdict: monitor.classification(of: lock),
            statistics: monitor.statistics(forLock: lock.entry.name), localHost: monitor.environment.hostName,
            now: now)
    }

    private var missing: [String] {
        if case .reconnecting = monitor.mode { return [monitor.location] }
        return []
    }

    /// `redis://… not answering for 6s`, while a PING waits.
    public var storeTrouble: String? {
        monitor.unansweredFor.map { "\(monitor.location) not answering for \(DurationText.format($0))" }
    }

    public func data(now: Date) -> DashboardData {
        var data = DashboardData(
            recordsDirectory: monitor.location, locksDirectory: monitor.location, watch: monitor.watchText,
            rows: monitor.locks.values.map { row($0, now: now) }, recordCount: 0, lockCount: monitor.locks.count,
            missingDirectories: missing)
        data.store = .redis
        data.storeTrouble = storeTrouble
        return data
    }

    public func patch(for changes: MonitorChanges, shown: DashboardData, now: Date, detailID: RowID?) -> DashboardPatch
    {
        var names = changes.locks
        if let name = detailID?.lockName { names.insert(name) }
        var upserts: [LockRow] = []
        var removals: Set<RowID> = []
        for name in names {
            if let lock = monitor.locks[name] {
                upserts.append(row(lock, now: now))
            } else if shown.row(withID: .lock(name)) != nil {
                removals.insert(.lock(name))
            }
        }
        return DashboardPatch(
            upserts: upserts, removals: removals, recordCount: 0, lockCount: monitor.locks.count,
            missingDirectories: missing, watch: monitor.watchText, storeTrouble: storeTrouble)
    }

    /// Each target is broken only while Redis still holds the token shown; the `broken` event
    /// comes from the monitor, which finds the audit line.
    public func breakLocks(_ targets: [BreakTarget], authority: BreakAuthority) -> [BreakOutcome] {
        guard let lockOperator = monitor.makeOperator(breaker: breaker) else {
            return targets.map {
                BreakOutcome(lockName: $0.lockName, failure: .source("\(monitor.location) is not connected"))
            }
        }
        return targets.map { target in
            guard let lock = monitor.locks[target.lockName] else {
                return BreakOutcome(
                    lockName: target.lockName,
                    failure: .operation(
                        .changedSinceJudged(key: RecordKey.shownKey(ofLockName: target.lockName))))
            }
            do {
                var judged = lock
                judged.lock.holder = target.judgedBytes
                let verdict = monitor.classification(of: lock)
                if authority < .forced, verdict.state != target.judgedState {
                    throw LockOperationError.verdictChanged(key: lock.lock.key, shown: target.judgedState, now: verdict)
                }
                _ = try lockOperator.breakLock(judged, classification: verdict, authority: authority, dryRun: false)
                return BreakOutcome(lockName: target.lockName)
            } catch {
                return BreakOutcome(lockName: target.lockName, failure: BreakFailure(error))
            }
        }
    }

    public func details(for request: RowDetails.Request) -> RowDetails {
        let content = request.lockName.flatMap { monitor.locks[$0]?.entry.content }
        return RowDetails(
            rowID: request.rowID,
            holderProcess: content.flatMap { ProcessDetails.namedBy($0, hostName: monitor.environment.hostName) })
    }
}
