import Dashboard
import Foundation
import LockMonitor
import RecordStore

/// The dashboard's source over a ``ReplayLockSource``: the rows as recorded at the replay's
/// clock. Nothing in a replay can be broken or signalled: it is the past.
public final class ReplayDashboardSource: DashboardSource {
    private let replay: ReplayLockSource
    public let breaker: LockBreaker

    /// The dashboard's source over `replay`.
    public init(replay: ReplayLockSource) {
        self.replay = replay
        breaker = LockBreaker(auditLog: AuditLog.defaultLocation())
    }

    public var lockSource: LockSource { replay }

    public func data(now: Date) -> DashboardData {
        let rows = Array(replay.rows.values)
        var data = DashboardData(
            recordsDirectory: replay.sourceLabel, locksDirectory: replay.sourceLabel, watch: replay.watchText,
            rows: rows, recordCount: 0, lockCount: rows.count)
        data.deadlocks = replay.deadlocks
        return data
    }

    public func patch(for changes: MonitorChanges, shown: DashboardData, now: Date, detailID: RowID?) -> DashboardPatch
    {
        let removals = Set(shown.rows.map(\.id).filter { replay.rows[$0.lockName ?? ""] == nil })
        return DashboardPatch(
            upserts: Array(replay.rows.values), removals: removals, recordCount: 0, lockCount: replay.rows.count,
            watch: replay.watchText, deadlocks: replay.deadlocks)
    }

    public func breakLocks(_ targets: [BreakTarget], authority: BreakAuthority) -> [BreakOutcome] {
        targets.map { BreakOutcome(lockName: $0.lockName, failure: .source("a replay breaks nothing")) }
    }

    public func details(for request: RowDetails.Request) -> RowDetails {
        RowDetails(rowID: request.rowID, holderProcess: request.lockName.flatMap { replay.rows[$0]?.holderProcess })
    }
}
