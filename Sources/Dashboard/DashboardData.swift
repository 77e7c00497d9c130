import Foundation
import LockMonitor

/// Everything the dashboard shows from one look at the monitor.
public struct DashboardData: Equatable, Sendable {
    public var recordsDirectory: String
    public var locksDirectory: String
    public var watch: String
    /// The rows, in no particular order; ``DashboardState`` sorts them.
    public private(set) var rows: [LockRow]
    public var recordCount: Int
    public var lockCount: Int
    public var missingDirectories: [String]
    /// What is wrong with a store that is there but does not answer (`redis://… not answering for
    /// 6s`), for the header; nil when nothing is.
    public var storeTrouble: String?
    /// The deadlocks among the locks (``LockSource/deadlocks``), certain ones first.
    public var deadlocks: [WaitForGraph.Deadlock] = []
    /// What kind of store the locks are in: it says whether there are records to count, and how a break is made.
    public var store: LockStoreKind = .directory
    /// How many rows are in each lock state.
    public private(set) var stateCounts: [LockState: Int] = [:]
    /// How many held rows have a holder process this host cannot judge.
    public private(set) var unknownHolderCount = 0
    /// The ids of the rows whose waiters are blocked behind a dead or unknown holder.
    public private(set) var blockingRowIDs: Set<RowID> = []
    /// How many rows are records without a lock.
    public private(set) var recordRowCount = 0
    /// The processes fanotify sees waiting, over every lock, and those of them blocked behind a
    /// dead or unknown holder.
    public private(set) var waiterCount = 0
    public private(set) var blockedWaiterCount = 0
    private var positions: [RowID: Int] = [:]

    /// Creates data.
    public init(
        recordsDirectory: String, locksDirectory: String, watch: String, rows: [LockRow], recordCount: Int,
        lockCount: Int, missingDirectories: [String] = []
    ) {
        self.recordsDirectory = recordsDirectory
        self.locksDirectory = locksDirectory
        self.watch = watch
        self.rows = rows
        self.recordCount = recordCount
        self.lockCount = lockCount
        self.missingDirectories = missingDirectories
        positions = Dictionary(
            rows.enumerated().map { ($0.element.id, $0.offset) }, uniquingKeysWith: { first, _ in first })
        for row in rows { tally(row, 1) }
    }

    /// The wait-for graph of the rows: each lock's holder process and waiters, as the rows hold them.
    public var waitForGraph: WaitForGraph { Self.waitForGraph(of: rows) }

    /// The wait-for graph of `rows`: each lock's holder process and waiters, as the rows hold them.
    public static func waitForGraph(of rows: some Sequence<LockRow>) -> WaitForGraph {
        WaitForGraph(
            rows.compactMap { row in
                row.lockName.map {
                    WaitForGraph.Lock(
                        lockName: $0, holder: row.holderProcess, holderLiveness: row.liveness ?? .unknown,
                        waiters: row.waiters)
                }
            })
    }

    /// The row with `id` as it is now, nil when it is gone.
    public func row(withID id: RowID) -> LockRow? {
        positions[id].map { rows[$0] }
    }

    /// How many locks are in `state`.
    public func count(_ state: LockState) -> Int {
        stateCounts[state] ?? 0
    }

    /// Applies a patch: removes and replaces rows by id, and takes the new totals. Costs what it touches.
    public mutating func apply(_ patch: DashboardPatch) {
        for id in patch.removals {
            guard let position = positions.removeValue(forKey: id) else { continue }
            tally(rows[position], -1)
            let last = rows.count - 1
            if position != last {
                rows[position] = rows[last]
                positions[rows[position].id] = position
            }
            rows.removeLast()
        }
        for row in patch.upserts {
            if let position = positions[row.id] {
                tally(rows[position], -1)
                rows[position] = row
            } else {
                positions[row.id] = rows.count
                rows.append(row)
            }
            tally(row, 1)
        }
        recordCount = patch.recordCount
        lockCount = patch.lockCount
        missingDirectories = patch.missingDirectories
        storeTrouble = patch.storeTrouble
        deadlocks = patch.deadlocks
        watch = patch.watch
    }

    /// Adds `row` to the counts (`sign` 1) or takes it out (-1).
    private mutating func tally(_ row: LockRow, _ sign: Int) {
        if row.lockName == nil { recordRowCount += sign }
        if let state = row.state {
            let count = (stateCounts[state] ?? 0) + sign
            stateCounts[state] = count == 0 ? nil : count
        }
        if row.isHeldByUnknownProcess { unknownHolderCount += sign }
        waiterCount += sign * row.waiters.count
        if row.blocksWaiters { blockedWaiterCount += sign * row.waiters.count }
        if row.blocksWaiters {
            if sign > 0 { blockingRowIDs.insert(row.id) } else { blockingRowIDs.remove(row.id) }
        }
    }
}
