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
    /// The lock file's bytes as judged; a break asks the core to remove exactly these.
    public var lockBytes: [UInt8]
    /// The pid of the holder's process, from the lock's own fields or its `host:pid` holder.
    public var holderProcessID: Int32?
    /// Contention statistics.
    public var statistics: ContentionStatistics
    /// A summary of the first mapped record, when loaded.
    public var recordSummary: String?
    /// The holder's process, when known: seen creating the lock by fanotify, or named by the lock (detail row only).
    public var holderProcess: ProcessDetails?
    /// Where the holder's process was learned from.
    public var identitySource: IdentitySource
    /// The processes waiting, longest first, when fanotify sees them.
    public var waiters: [IdentityLedger.Waiter]
    /// Whether ``waiters`` is an exact count (fanotify) rather than unknown, to be estimated from poll pressure.
    public var countsWaiters: Bool
    /// The Prefect flow run name the lock records (the Prefect helper writes it).
    public var flowRunName: String?

    /// Creates a row.
    public init(id: String, key: String, lockName: String?, state: LockState?, reason: String, holder: LockHolder? = nil,
                liveness: Liveness? = nil, expiration: Date? = nil, since: Date? = nil, records: [String] = [],
                shared: Bool = false, pollRate: Double = 0, lockBytes: [UInt8] = [], holderProcessID: Int32? = nil,
                statistics: ContentionStatistics = ContentionStatistics(), recordSummary: String? = nil,
                holderProcess: ProcessDetails? = nil, identitySource: IdentitySource = .none,
                waiters: [IdentityLedger.Waiter] = [], countsWaiters: Bool = false, flowRunName: String? = nil) {
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
        self.lockBytes = lockBytes
        self.holderProcessID = holderProcessID
        self.statistics = statistics
        self.recordSummary = recordSummary
        self.holderProcess = holderProcess
        self.identitySource = identitySource
        self.waiters = waiters
        self.countsWaiters = countsWaiters
        self.flowRunName = flowRunName
    }

    /// The HOLDER column: `pid command` when fanotify saw the process, `pid flow-run-name` when the
    /// lock records its flow run, `host/pid` for a `host:pid` holder, else the holder string.
    public var holderText: String {
        if identitySource == .fanotify, let process = holderProcess { return process.summary }
        if let flowRunName { return holderProcessID.map { "\($0) \(flowRunName)" } ?? flowRunName }
        return Reports.shortHolder(holder)
    }

    /// The WAIT column: the waiters fanotify sees, or `~N` estimated from poll pressure at
    /// Prefect's 0.1 s poll, or `-`.
    public var waitText: String {
        if countsWaiters, !waiters.isEmpty { return "\(waiters.count)" }
        let estimate = Int((pollRate / 10).rounded())
        return estimate > 0 ? "~\(estimate)" : "-"
    }

    /// The raw lock JSON for display, escaped for the terminal.
    public var rawJSON: String { TerminalText.escaped(bytes: lockBytes) }

    /// Whether it is held by a process this host cannot judge: never drawn as a healthy `held`.
    public var isHeldByUnknownProcess: Bool { state == .held && liveness != .alive }

    /// Whether processes wait on it behind a holder that is dead or cannot be judged.
    public var blocksWaiters: Bool { !waiters.isEmpty && (state == .stale || isHeldByUnknownProcess) }

    /// Whether `X` may break it after one confirmation.
    public var isBreakableWithoutForce: Bool { state?.isBreakableWithoutForce ?? false }
}

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
    /// How many rows are in each lock state.
    public private(set) var stateCounts: [LockState: Int] = [:]
    /// How many held rows have a holder process this host cannot judge.
    public private(set) var unknownHolderCount = 0
    /// The ids of the rows whose waiters are blocked behind a dead or unknown holder.
    public private(set) var blockingRowIDs: Set<String> = []
    /// How many rows are records without a lock.
    public private(set) var recordRowCount = 0
    private var positions: [String: Int] = [:]

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
        positions = Dictionary(rows.enumerated().map { ($0.element.id, $0.offset) }, uniquingKeysWith: { first, _ in first })
        for row in rows { tally(row, 1) }
    }

    /// The row with `id` as it is now, nil when it is gone.
    public func row(withID id: String) -> LockRow? {
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
        if row.blocksWaiters {
            if sign > 0 { blockingRowIDs.insert(row.id) } else { blockingRowIDs.remove(row.id) }
        }
    }
}

/// Rows to add, replace or remove, with the new totals.
public struct DashboardPatch: Equatable, Sendable {
    public var upserts: [LockRow]
    public var removals: Set<String>
    public var recordCount: Int
    public var lockCount: Int
    public var missingDirectories: [String]
    public var watch: String

    /// Creates a patch.
    public init(upserts: [LockRow], removals: Set<String>, recordCount: Int, lockCount: Int,
                missingDirectories: [String] = [], watch: String = "inotify") {
        self.upserts = upserts
        self.removals = removals
        self.recordCount = recordCount
        self.lockCount = lockCount
        self.missingDirectories = missingDirectories
        self.watch = watch
    }

    /// The number of rows it touches.
    public var size: Int { upserts.count + removals.count }
}
