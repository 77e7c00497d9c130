import Foundation
import LockMonitor

/// Rows to add, replace or remove, with the new totals.
public struct DashboardPatch: Equatable, Sendable {
    public var upserts: [LockRow]
    public var removals: Set<RowID>
    public var recordCount: Int
    public var lockCount: Int
    public var missingDirectories: [String]
    public var watch: String
    /// See ``DashboardData/storeTrouble``.
    public var storeTrouble: String?
    /// See ``DashboardData/deadlocks``.
    public var deadlocks: [WaitForGraph.Deadlock]

    /// Creates a patch.
    public init(
        upserts: [LockRow], removals: Set<RowID>, recordCount: Int, lockCount: Int,
        missingDirectories: [String] = [], watch: String = "inotify", storeTrouble: String? = nil,
        deadlocks: [WaitForGraph.Deadlock] = []
    ) {
        self.deadlocks = deadlocks
        self.upserts = upserts
        self.removals = removals
        self.recordCount = recordCount
        self.lockCount = lockCount
        self.missingDirectories = missingDirectories
        self.watch = watch
        self.storeTrouble = storeTrouble
    }

    /// This patch followed by `later`, as one: a row's last change wins, and the totals are the later ones.
    public func followed(by later: DashboardPatch) -> DashboardPatch {
        var rows: [RowID: LockRow] = [:]
        for row in upserts where !later.removals.contains(row.id) { rows[row.id] = row }
        for row in later.upserts { rows[row.id] = row }
        return DashboardPatch(
            upserts: Array(rows.values), removals: removals.subtracting(rows.keys).union(later.removals),
            recordCount: later.recordCount, lockCount: later.lockCount,
            missingDirectories: later.missingDirectories, watch: later.watch, storeTrouble: later.storeTrouble,
            deadlocks: later.deadlocks)
    }

    /// The number of rows it touches.
    public var size: Int { upserts.count + removals.count }
}
