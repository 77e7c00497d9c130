import Dashboard
import Foundation
import LockMonitor
import RecordStore

/// The dashboard over a records directory: rows from ``DashboardRowBuilder``, breaks through the
/// core's safe break, record summaries read from the record files.
public final class DirectoryDashboardSource: DashboardSource {
    public let monitor: LockMonitor
    public let breaker: LockBreaker
    /// The most rows of records without a lock: the dashboard lists some; `serve`, which counts
    /// records but shows none, none.
    public let recordRowLimit: Int

    public init(
        monitor: LockMonitor, breaker: LockBreaker, recordRowLimit: Int = DashboardRowBuilder.unlockedRecordLimit
    ) {
        self.monitor = monitor
        self.breaker = breaker
        self.recordRowLimit = recordRowLimit
    }

    public var lockSource: LockSource { monitor }

    public func data(now: Date) -> DashboardData {
        DashboardRowBuilder.data(from: monitor, now: now, recordRowLimit: recordRowLimit)
    }

    public func patch(for changes: MonitorChanges, shown: DashboardData, now: Date, detailID: RowID?) -> DashboardPatch
    {
        DashboardRowBuilder.patch(
            for: changes, from: monitor, shown: shown, now: now, detailID: detailID, recordRowLimit: recordRowLimit)
    }

    /// The `broken` events come from the monitor's watch, as for a break by another process.
    public func breakLocks(_ targets: [BreakTarget], authority: BreakAuthority) -> [BreakOutcome] {
        targets.map { target in
            do {
                try monitor.breakLock(
                    named: target.lockName, shown: (target.judgedBytes, target.judgedState), authority: authority,
                    breaker: breaker)
                return BreakOutcome(lockName: target.lockName)
            } catch {
                return BreakOutcome(lockName: target.lockName, failure: BreakFailure(error))
            }
        }
    }

    public func details(for request: RowDetails.Request) -> RowDetails {
        RowDetails(
            rowID: request.rowID, recordSummary: request.recordKey.flatMap(monitor.recordSummary(ofRecord:)),
            holderProcess: request.lockName.flatMap(monitor.holderProcess(ofLock:)))
    }
}
