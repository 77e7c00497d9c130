import Foundation
import LockMonitor
import RecordStore

/// What the dashboard shows and acts on: the rows of a lock source, breaks of the rows the
/// operator confirmed, and the facts of the detail pane. A directory and a Redis database each
/// have one; the session and everything above it are the same for both.
public protocol DashboardSource: AnyObject {
    /// The source the loop watches.
    var lockSource: LockSource { get }
    /// Who breaks and signals, and where that is logged.
    var breaker: LockBreaker { get }
    /// Every row, from scratch.
    func data(now: Date) -> DashboardData
    /// The rows `changes` touched, against the `shown` data; the row `detailID` too.
    func patch(for changes: MonitorChanges, shown: DashboardData, now: Date, detailID: RowID?) -> DashboardPatch
    /// Breaks each target if it still holds the bytes and verdict the operator was shown, and its
    /// verdict allows `authority`.
    func breakLocks(_ targets: [BreakTarget], authority: BreakAuthority) -> [BreakOutcome]
    /// What the detail pane shows beyond the row.
    func details(for request: RowDetails.Request) -> RowDetails
    /// What is wrong with the store while it is there but does not answer (``DashboardData/storeTrouble``).
    var storeTrouble: String? { get }
}

extension DashboardSource {
    /// Where breaks and signals are logged.
    public var auditLogPath: String { breaker.auditLog.path }

    /// A directory is there or missing: it has no trouble of this kind.
    public var storeTrouble: String? { nil }
}
