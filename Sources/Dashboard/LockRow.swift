import Foundation
import LockMonitor
import LockReports
import RecordStore

/// One row of the dashboard's table: a lock, or a record that has no lock.
public struct LockRow: Equatable, Sendable, Identifiable {
    /// The lock, or the record without a lock, it shows. Selection follows it.
    public var id: RowID
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
    /// The holder's process, when fanotify saw it create the lock file.
    public var holderProcess: ProcessDetails?
    /// Where the holder's process was learned from.
    public var identitySource: IdentitySource
    /// The holder's host, when evidence places it on another host than this one.
    public var remoteHost: String?
    /// Every testimony on whether the holder lives, and the source whose testimony made the verdict.
    public var evidence: [LivenessTestimony] = []
    public var judgedBy: LivenessTestimony.Source = .none
    /// The processes waiting, longest first, when fanotify sees them.
    public var waiters: [IdentityLedger.Waiter]
    /// Whether ``waiters`` is an exact count (fanotify) rather than unknown, to be estimated from poll pressure.
    public var countsWaiters: Bool
    /// The Prefect task and flow run the lock belongs to, where the helper or the holder's
    /// environment names them.
    public var prefectRun: PrefectRun?
    /// Whether processes wait on it for `--blocked-after` behind a holder not known to be alive (its verdict says).
    public var blocksWaiters: Bool
    /// When the lock file went, for a lock row kept (as `free`) for a moment after its release so
    /// that the cursor and the contention figures stay through a hand-off; nil for a lock that is there.
    public var releasedAt: Date?

    /// The seconds waited for it in the last ``ContentionStatistics/hotWindow``, ongoing waits
    /// included, as of when the row was built: the `hot` sort's key.
    public var waitedRecently: TimeInterval = 0
    /// Its acquisitions in the last minute, as of when the row was built.
    public var acquisitionsPerMinute = 0
    /// How many waited at once over the last ``ContentionStatistics/waitHistoryWindow``, in
    /// ``waiterHistorySlices`` slices, as of when the row was built: the detail pane's sparkline.
    public var waiterHistory: [Int] = []
    /// How many slices ``waiterHistory`` has.
    public static let waiterHistorySlices = 30

    /// Sets the figures that move with the clock (``waitedRecently``, ``acquisitionsPerMinute``,
    /// ``waiterHistory``) from the statistics and the waiters, at `now`.
    public mutating func noteRecentContention(now: Date) {
        let ongoing = countsWaiters ? waiters.map(\.since) : []
        waitedRecently = statistics.timeWaited(now: now, ongoing: ongoing)
        acquisitionsPerMinute = statistics.acquisitionsPerMinute(now: now)
        let spans = statistics.recentWaits + ongoing.map { ($0, now) }
        waiterHistory =
            spans.isEmpty
            ? []
            : ContentionStatistics.waiterCounts(
                of: spans, over: now.addingTimeInterval(-ContentionStatistics.waitHistoryWindow)...now,
                slices: Self.waiterHistorySlices)
    }

    /// Creates a row.
    public init(
        id: RowID, key: String, lockName: String?, state: LockState?, reason: String, holder: LockHolder? = nil,
        liveness: Liveness? = nil, expiration: Date? = nil, since: Date? = nil, records: [String] = [],
        shared: Bool = false, pollRate: Double = 0, lockBytes: [UInt8] = [], holderProcessID: Int32? = nil,
        statistics: ContentionStatistics = ContentionStatistics(),
        holderProcess: ProcessDetails? = nil, identitySource: IdentitySource = .none,
        waiters: [IdentityLedger.Waiter] = [], countsWaiters: Bool = false, prefectRun: PrefectRun? = nil,
        blocksWaiters: Bool = false, releasedAt: Date? = nil
    ) {
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
        self.holderProcess = holderProcess
        self.identitySource = identitySource
        self.waiters = waiters
        self.countsWaiters = countsWaiters
        self.prefectRun = prefectRun
        self.blocksWaiters = blocksWaiters
        self.releasedAt = releasedAt
    }

    /// The HOLDER column: `pid command` when fanotify saw the process (or another host's agent did:
    /// `pid command @host`), `pid flow-run-name` when the lock records its flow run, `host/pid` for
    /// a `host:pid` holder, else the holder string.
    public var holderText: String {
        if let remoteHost, let process = holderProcess { return "\(process.summary) @\(remoteHost)" }
        if identitySource == .fanotify, let process = holderProcess { return process.summary }
        if let flowRunName = prefectRun?.flowRunName {
            return holderProcessID.map { "\($0) \(flowRunName)" } ?? flowRunName
        }
        return Reports.shortHolder(holder)
    }

    /// The WAIT column at `now`: the waiters fanotify sees, with the longest wait when
    /// `showingLongest` (`3 ⧗2m10s`), or `~N` estimated from poll pressure at Prefect's 0.1 s
    /// poll, or `-`.
    public func waitText(now: Date, showingLongest: Bool = true) -> String {
        if countsWaiters, let first = waiters.map(\.since).min() {
            guard showingLongest else { return "\(waiters.count)" }
            return "\(waiters.count) ⧗\(DurationText.format(max(0, now.timeIntervalSince(first))))"
        }
        let estimate = Int((pollRate / 10).rounded())
        return estimate > 0 ? "~\(estimate)" : "-"
    }

    /// The raw lock JSON for display, escaped for the terminal.
    public var rawJSON: String { TerminalText.escaped(bytes: lockBytes) }

    /// Whether it is held by a process this host cannot judge: never drawn as a healthy `held`.
    public var isHeldByUnknownProcess: Bool { state == .held && liveness != .alive }

    /// This lock's row as kept after its release at `time`: `free`, with its figures and records,
    /// and nothing that a break or a signal could act on (no holder, no bytes, no state).
    public func released(at time: Date) -> LockRow {
        LockRow(
            id: id, key: key, lockName: lockName, state: nil, reason: "last held by \(holderText)",
            // Its expiry and age stay, so that the sorts leave it where it was.
            expiration: expiration, since: since,
            records: records, shared: shared, pollRate: pollRate, statistics: statistics, releasedAt: time)
    }

    /// Whether `X` may break it after one confirmation.
    public var isBreakableWithoutForce: Bool { state?.isBreakableWithoutForce ?? false }
}
