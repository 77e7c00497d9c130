import Foundation
import LockMonitor
import RecordStore

/// The order of the table.
public enum SortOrder: String, CaseIterable, Sendable {
    case expiry, key, age, state, wait
    /// The longest wait now first.
    case waiting
    /// The longest typical hold (p95 of the recent ones) first.
    case holdP95 = "hold p95"
    /// The most acquisitions in the last minute first.
    case rate = "acq/min"
    /// The most time waited in the last 5 minutes first.
    case hot

    /// The next order in the `s` cycle.
    public var next: SortOrder {
        let all = SortOrder.allCases
        return all[(all.firstIndex(of: self)! + 1) % all.count]
    }
}

/// What the dashboard is doing: browsing, or waiting for an answer.
public enum DashboardMode: Equatable, Sendable {
    case browsing
    case help
    /// `b`: the blocking tree, live, until any key.
    case blocking
    /// `r` on an expired or stale lock, as judged then: `y` breaks it.
    case confirmRelease(LockRow)
    /// `r` on a live lock, as judged then: typing the whole key and Enter, or Ctrl-F, forces it.
    case confirmForce(LockRow, typed: String)
    /// `X`, with the locks as judged then: `y` breaks every one that has not changed.
    case confirmBreakAll([LockRow])
    /// `k` on a lock held by a known local process, as judged then: `y` sends it `signal`.
    case confirmSignal(LockRow, HolderSignal.Target, HolderSignal.Signal)
    /// `D` while the header shows a deadlock: a digit chooses the lock of its cycle to break,
    /// which is then confirmed as `r` confirms.
    case chooseDeadlockLock(WaitForGraph.Deadlock)

    /// The rows an open dialog is about, as judged when it opened.
    public var judgedRows: [LockRow] {
        switch self {
        case .browsing, .help, .blocking, .chooseDeadlockLock: return []
        case .confirmRelease(let row), .confirmForce(let row, _), .confirmSignal(let row, _, _): return [row]
        case .confirmBreakAll(let rows): return rows
        }
    }
}

/// The dashboard's whole state: pure data, changed only by ``DashboardReducer``.
public struct DashboardState: Equatable, Sendable {
    public var data: DashboardData
    public var now: Date
    public var width: Int
    public var height: Int
    public var sort: SortOrder = .expiry
    /// Whether the sort runs backwards (`I`); lock rows still come before record rows.
    public var isSortDescending = false
    /// Whether records without a lock get rows (`R`); the header counts them either way.
    public var showsRecords = true
    /// Whether the table holds still (`Z`): updates wait, folded into one, and the clock stops.
    public private(set) var isFrozen = false
    /// The last whole data set that arrived while frozen, and the patches after it, as one.
    private var heldData: DashboardData?
    private var heldPatch: DashboardPatch?
    /// The filter as typed (``RowFilter`` reads it).
    public var filter = "" {
        didSet { rowFilter = RowFilter(filter) }
    }
    /// The filter, parsed.
    public private(set) var rowFilter = RowFilter("")
    public var isEditingFilter = false
    public var mode: DashboardMode = .browsing
    public var showsDetail = false
    /// The detail pane's row as last read (``RowDetails``), and the row asked for.
    public var details: RowDetails?
    public internal(set) var requestedDetails: RowDetails.Request?
    public var showsEvents = true
    /// What the moves act on: the table, or the pane `Tab` focused.
    public var focus = PaneFocus.table
    /// Whether the moves scroll the event log rather than the table.
    public var focusesEvents: Bool { focus == .events }
    /// How many lines the detail pane is scrolled down; back to 0 when the selection moves.
    public var detailScroll = 0
    /// How many events back from the newest the log is scrolled; 0 follows the newest.
    public var eventScroll = 0
    public var isReadOnly: Bool
    /// Whose permission a signal from `k` has (the session's effective uid): root signals any
    /// process, anyone else only their own; nil leaves it to the core alone.
    public var operatorUID: UInt32?
    /// The row whose holder `k` is looking up, to offer the signal once its details are read.
    var pendingSignal: RowID?
    /// The last signal `k` sent, and when: `k` on the same process again offers SIGKILL.
    public var lastSignal: SentSignal?
    /// A signal `k` sent.
    public struct SentSignal: Equatable, Sendable {
        public var target: HolderSignal.Target
        public var signal: HolderSignal.Signal
        public var at: Date
    }
    public var events: [MonitorEvent] = []
    public var message: String?
    /// The id of the selected row; the selection follows it when rows move.
    public var selectedID: RowID?
    /// The row the selection had when it went, where the cursor went instead and when: for a
    /// moment (``selectionGrace``) the cursor goes back to that row if it comes back and the
    /// operator has not moved since, as htop's stays on its PID.
    var departedSelection: DepartedSelection?
    /// A selected row that went: its id, where the cursor went instead, and when.
    struct DepartedSelection: Equatable, Sendable {
        var id: RowID
        var movedTo: RowID?
        var at: Date
        /// What the status line was told, taken back if the row comes back.
        var notice: String? = nil
    }
    /// How long a selected row that went may come back and take the cursor back: a lock released
    /// and taken again between two refreshes, or a few seconds later.
    static let selectionGrace: TimeInterval = 5
    /// Lock rows whose file went, kept as `free` rows for ``releaseGrace(of:)`` so that a hand-off
    /// keeps the cursor and the contention figures in view; their records' rows wait meanwhile.
    public private(set) var releasedLocks: [RowID: LockRow] = [:]
    /// The first visible row.
    public var scrollOffset = 0
    /// The rows after filter and sort.
    public private(set) var visibleRows: [LockRow] = []

    /// The most events kept for the log.
    public static let eventLimit = 500

    /// A state over `data`.
    public init(data: DashboardData, now: Date, width: Int, height: Int, isReadOnly: Bool = false) {
        self.data = data
        self.now = now
        self.width = width
        self.height = height
        self.isReadOnly = isReadOnly
        refreshVisibleRows()
    }

    /// The events that pass the filter, oldest first: what the log shows.
    public var shownEvents: [MonitorEvent] {
        events.filter { rowFilter.matches($0) }
    }

    /// The sort as the column header and the status line show it: `expiry ▴`.
    public var sortText: String {
        "\(sort.rawValue) \(isSortDescending ? "▾" : "▴")"
    }

    /// How long a released lock keeps its row: its last hold (a lock handed off every few seconds
    /// is taken again within it), at least 5 s, at most a minute.
    static func releaseGrace(of row: LockRow) -> TimeInterval {
        min(60, max(5, row.statistics.lastHold ?? 0))
    }

    /// Replaces the data, keeping a row for each lock that went.
    mutating func replaceData(with new: DashboardData) {
        let departed = data.rows.filter { $0.lockName != nil && $0.state != nil && new.row(withID: $0.id) == nil }
        data = new
        noteReleases(departed, reclaimed: new.rows.map(\.id))
        refreshVisibleRows()
    }

    /// Keeps a `free` row for each lock of `departed`, and drops the kept rows of the `reclaimed` ids.
    private mutating func noteReleases(_ departed: [LockRow], reclaimed: [RowID]) {
        for id in reclaimed where id.lockName != nil { releasedLocks[id] = nil }
        for row in departed { releasedLocks[row.id] = row.released(at: now) }
    }

    /// Drops the kept rows of released locks whose grace is over: their records' rows come back.
    mutating func forgetReleasedLocks() {
        let over = releasedLocks.values.filter {
            now.timeIntervalSince($0.releasedAt ?? now) > Self.releaseGrace(of: $0)
        }
        guard !over.isEmpty else { return }
        for row in over { releasedLocks[row.id] = nil }
        let before = visibleRows
        let position = selectedIndex ?? 0
        rebuildVisibleRows()
        // The neighbour is the next row that stays (else the one before), wherever it is now.
        let after = Dictionary(visibleRows.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        let stays = before[min(position, before.count)...].lazy.compactMap { after[$0.id] }.first
        let neighbour =
            stays ?? before[..<min(position, before.count)].reversed().lazy.compactMap { after[$0.id] }.first
        keepSelection(near: neighbour ?? position, announcing: true)
        // Its grace is spent: a neighbour keeps the cursor even if the key comes back.
        if let departed = departedSelection, over.contains(where: { $0.id == departed.id }),
            !(departed.movedTo.map { Self.isSameKey($0, departed.id) } ?? false)
        {
            departedSelection = nil
        }
    }

    /// Whether a record's row waits for the kept row of its released lock file.
    private func isBehindReleasedLock(_ row: LockRow) -> Bool {
        row.lockName == nil && !releasedLocks.isEmpty
            && releasedLocks[.lock(RecordKey.lockFileName(forKey: row.key))] != nil
    }

    /// Holds a whole new data set back while frozen: it replaces whatever was held.
    mutating func hold(_ data: DashboardData) {
        heldData = data
        heldPatch = nil
    }

    /// Holds a patch back while frozen, folded into those held before it: a long freeze over a
    /// busy directory holds at most one row per lock.
    mutating func hold(_ patch: DashboardPatch) {
        heldPatch = heldPatch.map { $0.followed(by: patch) } ?? patch
    }

    /// Freezes the table, or resumes it and applies what was held.
    mutating func setFrozen(_ frozen: Bool) {
        isFrozen = frozen
        guard !frozen else { return }
        if let heldData { replaceData(with: heldData) }
        if let heldPatch { apply(heldPatch) }
        heldData = nil
        heldPatch = nil
    }

    /// Whether `row` is shown before `other`: every lock row before every record row, each group in
    /// the sort's order and direction.
    func precedes(_ row: SortKey, _ other: SortKey) -> Bool {
        if row.isRecord != other.isRecord { return other.isRecord }
        return isSortDescending ? other < row : row < other
    }

    /// Whether `row` passes the filter and the records toggle.
    func shows(_ row: LockRow) -> Bool {
        (showsRecords || row.lockName != nil) && !isBehindReleasedLock(row) && rowFilter.matches(row)
    }

    /// The selected row, if any.
    public var selectedRow: LockRow? {
        visibleRows.first { $0.id == selectedID }
    }

    /// The lock files an open dialog is about, which the loop judges again every tick.
    public var dialogLockNames: Set<String> {
        Set(mode.judgedRows.compactMap(\.lockName))
    }

    /// How the lock of `judged` changed since it was judged, or nil when breaking it is still what
    /// the operator was shown: the same bytes, and, without force, still breakable without it.
    public func change(since judged: LockRow, authority: BreakAuthority) -> String? {
        guard let current = data.row(withID: judged.id) else { return "is gone" }
        if current.lockBytes != judged.lockBytes { return "was rewritten" }
        if authority < .forced, current.state != judged.state || (current.state?.breakAuthority ?? .forced) > authority
        {
            return "is \(StateStyle.of(current).label.lowercased()) now"
        }
        return nil
    }

    /// The index of the first visible row of a record without a lock, where the `records` divider
    /// goes; nil when none is shown. Lock rows sort first, so it is found by bisection.
    public var recordDividerIndex: Int? {
        var low = 0
        var high = visibleRows.count
        while low < high {
            let middle = (low + high) / 2
            if visibleRows[middle].lockName != nil { low = middle + 1 } else { high = middle }
        }
        return low < visibleRows.count ? low : nil
    }

    /// The index of the selected row among the visible ones.
    public var selectedIndex: Int? {
        visibleRows.firstIndex { $0.id == selectedID }
    }

    /// Recomputes the visible rows after the data, filter or sort changed, keeping the selection on its id.
    public mutating func refreshVisibleRows() {
        rebuildVisibleRows()
        keepSelection(near: 0, announcing: false)
    }

    /// Sorts and filters the rows again, the selection left as it is.
    private mutating func rebuildVisibleRows() {
        let rows = releasedLocks.isEmpty ? data.rows : data.rows + releasedLocks.values
        // Sorted by small keys, then each row copied once: sorting the rows themselves copies them at every merge.
        var keyed = rows.indices.compactMap { shows(rows[$0]) ? (Self.sortKey(rows[$0], sort), $0) : nil }
        keyed.sort { precedes($0.0, $1.0) }
        visibleRows = keyed.map { rows[$0.1] }
    }

    /// Applies a patch, moving only the rows it touches when it is small: a row whose place in the
    /// order stays (a record's size settling, a countdown) is replaced where it is, found by its
    /// sort key; others are taken out and inserted in order.
    public mutating func apply(_ patch: DashboardPatch) {
        let selectedPosition = selectedIndex ?? 0
        // A lock that goes keeps its row, as `free`, under the same id: for the table, an upsert.
        let departed = patch.removals.compactMap { id in
            id.lockName == nil ? nil : data.row(withID: id).flatMap { $0.state == nil ? nil : $0 }
        }
        guard patch.size <= 256 else {
            data.apply(patch)
            noteReleases(departed, reclaimed: patch.upserts.map(\.id))
            rebuildVisibleRows()
            keepSelection(near: selectedPosition, announcing: true)
            return
        }
        var shownBefore: [RowID: SortKey] = [:]
        for id in patch.removals {
            if let row = data.row(withID: id), shows(row) { shownBefore[id] = Self.sortKey(row, sort) }
        }
        for id in patch.upserts.map(\.id) {
            if let row = data.row(withID: id) ?? releasedLocks[id], shows(row) {
                shownBefore[id] = Self.sortKey(row, sort)
            }
        }
        data.apply(patch)
        noteReleases(departed, reclaimed: patch.upserts.map(\.id))
        var moving: [LockRow] = []
        for row in patch.upserts + departed.compactMap({ releasedLocks[$0.id] }) {
            let key = Self.sortKey(row, sort)
            if shows(row), shownBefore[row.id] == key, let index = position(of: key) {
                visibleRows[index] = row
                shownBefore[row.id] = nil
            } else if shows(row) {
                moving.append(row)
            }
        }
        for key in shownBefore.values {
            if let index = position(of: key) {
                visibleRows.remove(at: index)
            } else {
                visibleRows.removeAll { $0.id == key.id }
            }
        }
        for row in moving {
            let key = Self.sortKey(row, sort)
            visibleRows.insert(row, at: lowerBound(of: key))
        }
        keepSelection(near: selectedPosition, announcing: true)
    }

    /// The first index of the visible rows not before `key`.
    private func lowerBound(of key: SortKey) -> Int {
        var low = 0
        var high = visibleRows.count
        while low < high {
            let middle = (low + high) / 2
            if precedes(Self.sortKey(visibleRows[middle], sort), key) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Where the visible row of `key` (whose id it carries) is, nil when it is not there.
    private func position(of key: SortKey) -> Int? {
        let index = lowerBound(of: key)
        return index < visibleRows.count && visibleRows[index].id == key.id ? index : nil
    }

    /// Keeps the selection on its key. A selected row that went comes back to the cursor within
    /// ``selectionGrace`` when the operator has not moved; a lock that went with its records left
    /// is followed to its record's row (and back, when it is taken again). Else the row now at
    /// `position` is selected, and (when `announcing`: the rows changed, not the filter) the
    /// status line says so.
    mutating func keepSelection(near position: Int, announcing: Bool) {
        if let departed = departedSelection, selectedID == departed.movedTo,
            now.timeIntervalSince(departed.at) <= Self.selectionGrace,
            let back = visibleRows.first(where: { $0.id == departed.id })
        {
            selectedID = back.id
            if let notice = departed.notice, message == notice { message = nil }
            departedSelection = nil
            return
        }
        guard let selected = selectedID else {
            selectedID = visibleRows.isEmpty ? nil : visibleRows[max(0, min(position, visibleRows.count - 1))].id
            return
        }
        if visibleRows.contains(where: { $0.id == selected }) { return }
        if let sameKey = visibleRows.first(where: { Self.isSameKey($0.id, selected) }) {
            selectedID = sameKey.id
            departedSelection = DepartedSelection(id: selected, movedTo: sameKey.id, at: now)
            return
        }
        let neighbour = visibleRows.isEmpty ? nil : visibleRows[max(0, min(position, visibleRows.count - 1))]
        selectedID = neighbour?.id
        guard announcing else { return }
        let gone = selected.lockName.flatMap { RecordKey.lockStem(ofFileName: $0) } ?? selected.recordKey ?? ""
        // An operator's outcome (`broke alpha`) stays: it says more than where the cursor went.
        let notice =
            message == nil ? "\(gone) is gone" + (neighbour.map { "; the cursor moved to \($0.key)" } ?? "") : nil
        if let notice { message = notice }
        departedSelection = DepartedSelection(id: selected, movedTo: neighbour?.id, at: now, notice: notice)
    }

    /// Whether a lock row and a record row are one key: the record's lock file is the lock's
    /// (a lock released leaves its record's row, and taken again, replaces it).
    static func isSameKey(_ one: RowID, _ other: RowID) -> Bool {
        switch (one, other) {
        case (.lock(let name), .record(let key)), (.record(let key), .lock(let name)):
            return RecordKey.lockFileName(forKey: key) == name
        default:
            return false
        }
    }

    /// Where a row goes in `sort`: by the order's rank and time, then key and id. Record rows are
    /// a group of their own, after the locks whatever the sort (``precedes(_:_:)``).
    struct SortKey: Comparable {
        var isRecord = false
        var rank: Int
        var time: Double
        var key: String
        var id: RowID

        static func < (lhs: SortKey, rhs: SortKey) -> Bool {
            (lhs.rank, lhs.time, lhs.key, lhs.id) < (rhs.rank, rhs.time, rhs.key, rhs.id)
        }
    }

    static func sortKey(_ row: LockRow, _ sort: SortOrder) -> SortKey {
        let isRecord = row.lockName == nil
        switch sort {
        case .key:
            return SortKey(isRecord: isRecord, rank: 0, time: 0, key: row.key, id: row.id)
        case .state:
            return SortKey(isRecord: isRecord, rank: StateStyle.of(row.state).rank, time: 0, key: row.key, id: row.id)
        case .age:
            return SortKey(
                isRecord: isRecord, rank: 0, time: (row.since ?? .distantFuture).timeIntervalSinceReferenceDate,
                key: "", id: row.id)
        case .expiry:
            let time = isRecord ? 0 : (row.expiration ?? .distantFuture).timeIntervalSinceReferenceDate
            return SortKey(isRecord: isRecord, rank: 0, time: time, key: row.key, id: row.id)
        case .wait:
            // The most waiters first, then the longest wait.
            let first = row.waiters.map(\.since).min() ?? .distantFuture
            return SortKey(
                isRecord: isRecord, rank: -row.waiters.count, time: first.timeIntervalSinceReferenceDate, key: row.key,
                id: row.id)
        case .waiting:
            let first = row.waiters.map(\.since).min() ?? .distantFuture
            return SortKey(
                isRecord: isRecord, rank: 0, time: first.timeIntervalSinceReferenceDate, key: row.key, id: row.id)
        case .holdP95:
            return SortKey(
                isRecord: isRecord, rank: 0, time: -(row.statistics.typicalHold ?? -1), key: row.key, id: row.id)
        case .rate:
            return SortKey(isRecord: isRecord, rank: -row.acquisitionsPerMinute, time: 0, key: row.key, id: row.id)
        case .hot:
            return SortKey(isRecord: isRecord, rank: 0, time: -row.waitedRecently, key: row.key, id: row.id)
        }
    }
}
