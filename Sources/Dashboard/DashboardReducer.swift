import Foundation
import LockMonitor
import RecordStore

/// Something that happened to the dashboard.
public enum DashboardAction: Equatable, Sendable {
    case key(Key)
    case data(DashboardData)
    case patch(DashboardPatch)
    case events([MonitorEvent])
    case tick(Date)
    case resize(width: Int, height: Int)
    /// A click at a column and row: a table row is selected.
    case click(x: Int, y: Int)
    /// The wheel: moves the selection (or scrolls the focused event log) by `lines`.
    case wheel(lines: Int)
    /// How a ``DashboardEffect/breakLocks(_:authority:)`` went, lock by lock; the breaks are logged to `auditLog`.
    case breakFinished([BreakOutcome], auditLog: String)
    /// What a ``DashboardEffect/loadDetails(_:)`` read.
    case detailsLoaded(RowDetails)
    /// How a ``DashboardEffect/signalHolder(_:_:)`` went: nil when sent, else why not; logged to `auditLog`.
    case signalFinished(HolderSignal.Target, HolderSignal.Signal, failure: String?, auditLog: String)
}

/// How breaking one lock went.
public struct BreakOutcome: Equatable, Sendable {
    /// The lock file name.
    public var lockName: String
    /// Why it was not broken (the lock or its verdict changed, or a live lock without force); nil when it was.
    public var failure: BreakFailure?

    public init(lockName: String, failure: BreakFailure? = nil) {
        self.lockName = lockName
        self.failure = failure
    }
}

/// One lock the operator confirmed breaking: its file name, and the bytes and verdict they were shown.
public struct BreakTarget: Equatable, Sendable {
    public var lockName: String
    /// The lock is broken only while it still holds exactly these bytes.
    public var judgedBytes: [UInt8]
    /// ... and, short of force, while its verdict is still this state.
    public var judgedState: LockState

    public init(lockName: String, judgedBytes: [UInt8], judgedState: LockState) {
        self.lockName = lockName
        self.judgedBytes = judgedBytes
        self.judgedState = judgedState
    }

    /// The target of a judged row.
    init?(_ row: LockRow) {
        guard let lockName = row.lockName, let state = row.state else { return nil }
        self.init(lockName: lockName, judgedBytes: row.lockBytes, judgedState: state)
    }
}

/// Work the reducer asks the outside to do.
public enum DashboardEffect: Equatable, Sendable {
    case quit
    /// Break these locks through the core's safe break, each only if it still holds the judged bytes
    /// and verdict, and only when its verdict allows `authority` (`.forced` also breaks live ones).
    case breakLocks([BreakTarget], authority: BreakAuthority)
    /// Put this text on the terminal's clipboard (OSC 52).
    case copy(String)
    /// Read the details of the row the detail pane shows: when it changes, and every tick while shown.
    case loadDetails(RowDetails.Request)
    /// Send this signal to this holder process, through the core's checked and logged signal.
    case signalHolder(HolderSignal.Target, HolderSignal.Signal)
}

/// The pure reducer: `(state, action) -> state + effects`.
public enum DashboardReducer {
    /// Applies `action` to `state` and returns the effects to run.
    public static func reduce(_ state: inout DashboardState, _ action: DashboardAction) -> [DashboardEffect] {
        let selected = state.selectedID
        var effects = apply(action, to: &state)
        // Another row's details start at their top; a pane that went gives the moves back to the table.
        if state.selectedID != selected { state.detailScroll = 0 }
        if (state.focus == .detail && !state.showsDetail) || (state.focus == .events && !state.showsEvents) {
            state.focus = .table
            state.eventScroll = 0
        }
        // The detail pane's row is read afresh when it (or its record) changes, and every second while shown.
        let wanted = state.showsDetail ? state.selectedRow.map(RowDetails.Request.init) : nil
        var ticked = false
        if case .tick = action { ticked = true }
        if wanted != state.requestedDetails || (ticked && wanted != nil) {
            state.requestedDetails = wanted
            if let wanted { effects.append(.loadDetails(wanted)) }
        }
        return effects
    }

    private static func apply(_ action: DashboardAction, to state: inout DashboardState) -> [DashboardEffect] {
        switch action {
        case .data(let data) where state.isFrozen:
            state.hold(data)
        case .patch(let patch) where state.isFrozen:
            state.hold(patch)
        case .data(let data):
            state.replaceData(with: data)
            clampScroll(&state)
        case .patch(let patch):
            state.apply(patch)
            clampScroll(&state)
        case .events(let events):
            state.events.append(contentsOf: events)
            if state.events.count > DashboardState.eventLimit {
                state.events.removeFirst(state.events.count - DashboardState.eventLimit)
            }
        case .tick(let now):
            // Frozen, the clock holds too, so countdowns agree with the states beside them.
            if !state.isFrozen {
                state.now = now
                state.forgetReleasedLocks()
                clampScroll(&state)
            }
        case .resize(let width, let height):
            state.width = width
            state.height = height
            clampScroll(&state)
        case .breakFinished(let outcomes, let auditLog):
            state.message = breakMessage(outcomes, auditLog: auditLog)
        case .signalFinished(let target, let signal, let failure, let auditLog):
            if let failure {
                state.message = "not sent: \(failure)"
            } else {
                state.lastSignal = DashboardState.SentSignal(target: target, signal: signal, at: state.now)
                let next = signal == .terminate ? "; k again offers SIGKILL" : ""
                state.message =
                    "sent \(signal.rawValue) to pid \(target.processID) (holder of \(target.key)); logged to \(auditLog)\(next)"
            }
        case .detailsLoaded(let details):
            if details.rowID == state.requestedDetails?.rowID { state.details = details }
            if details.rowID == state.pendingSignal {
                // `k` asked for the process the lock names: read afresh, it opens the dialog.
                state.pendingSignal = nil
                if let row = state.selectedRow, row.id == details.rowID {
                    offerSignal(row, process: details.holderProcess, in: &state)
                }
            }
        case .key(let key):
            return handle(key, in: &state)
        case .click(_, let y):
            let table = DashboardLayout(state: state).table
            guard state.mode == .browsing, y >= table.top, y < table.bottom else { break }
            if let index = TableViewport(state: state, height: table.height).row(atLine: y - table.top) {
                state.selectedID = state.visibleRows[index].id
            }
        case .wheel(let lines):
            guard state.mode == .browsing else { break }
            if state.focus == .events {
                scrollEvents(&state, back: -lines)
            } else if state.focus == .detail {
                scrollDetail(&state, by: lines)
            } else {
                move(&state, by: lines)
                clampScroll(&state)
            }
        }
        return []
    }

    private static func handle(_ key: Key, in state: inout DashboardState) -> [DashboardEffect] {
        switch state.mode {
        case .help, .blocking:
            state.mode = .browsing
            return []
        case .confirmRelease(let row):
            switch key {
            case .character("y"), .character("Y"):
                return confirm([row], authority: .confirmed, in: &state)
            case .character("n"), .character("N"), .escape:
                state.mode = .browsing
                state.message = "kept \(row.key)"
            default: break
            }
            return []
        case .confirmForce(let row, let typed):
            // Every printable key is text here: only the whole key and Enter, or Ctrl-F, forces.
            switch key {
            case .escape:
                state.mode = .browsing
                state.message = "kept \(row.key)"
            case .control("f"):
                return confirm([row], authority: .forced, in: &state)
            case .enter where typed == row.key:
                return confirm([row], authority: .forced, in: &state)
            case .enter:
                state.message = "type the key exactly and press Enter (or Ctrl-F); Esc keeps it"
            case .backspace:
                state.mode = .confirmForce(row, typed: String(typed.dropLast()))
            case .character(let character):
                state.mode = .confirmForce(row, typed: typed + String(character))
            default: break
            }
            return []
        case .confirmSignal(let row, let target, let signal):
            switch key {
            case .character("y"), .character("Y"):
                state.mode = .browsing
                // Only the process that was shown: a lock rewritten or gone is looked at again.
                guard state.change(since: row, authority: .forced) == nil,
                    state.data.row(withID: row.id)?.liveness == .alive
                else {
                    state.message = "not sent: the lock \(row.key) changed while the dialog was open; look again"
                    return []
                }
                return [.signalHolder(target, signal)]
            case .character("n"), .character("N"), .escape:
                state.mode = .browsing
                state.message = "kept pid \(target.processID) running"
            default: break
            }
            return []
        case .chooseDeadlockLock(let deadlock):
            switch key {
            case .character(let character):
                guard let number = Int(String(character)), deadlock.links.indices.contains(number - 1) else { break }
                let lockName = deadlock.links[number - 1].lockName
                guard let row = state.data.row(withID: .lock(lockName)), row.lockName != nil else {
                    state.mode = .browsing
                    state.message = "\(lockName) is gone; nothing broken"
                    break
                }
                state.mode = .browsing
                openBreakDialog(for: row, in: &state)
            case .escape:
                state.mode = .browsing
                state.message = "nothing broken"
            default: break
            }
            return []
        case .confirmBreakAll(let rows):
            switch key {
            case .character("y"), .character("Y"):
                let unchanged = rows.filter { state.change(since: $0, authority: .unattended) == nil }
                guard !unchanged.isEmpty else {
                    state.mode = .browsing
                    state.message = "nothing broken: every listed lock changed while the dialog was open"
                    return []
                }
                return confirm(unchanged, authority: .unattended, in: &state)
            case .character("n"), .character("N"), .escape:
                state.mode = .browsing
                state.message = "nothing broken"
            default: break
            }
            return []
        case .browsing:
            if state.isEditingFilter { return editFilter(key, in: &state) }
            return browse(key, in: &state)
        }
    }

    /// Closes the dialog and breaks `rows`, unless a lock changed since it was judged: then nothing is broken.
    private static func confirm(_ rows: [LockRow], authority: BreakAuthority, in state: inout DashboardState)
        -> [DashboardEffect]
    {
        state.mode = .browsing
        if rows.count == 1, let change = state.change(since: rows[0], authority: authority) {
            state.message = "not broken: \(rows[0].key) \(change) while the dialog was open; look again"
            return []
        }
        return [.breakLocks(rows.compactMap(BreakTarget.init), authority: authority)]
    }

    private static func editFilter(_ key: Key, in state: inout DashboardState) -> [DashboardEffect] {
        switch key {
        case .enter:
            state.isEditingFilter = false
        case .escape:
            state.isEditingFilter = false
            state.filter = ""
        case .backspace:
            state.filter = String(state.filter.dropLast())
        case .character(let character):
            state.filter.append(character)
        default:
            return browse(key, in: &state)
        }
        state.selectedID = nil
        state.scrollOffset = 0
        state.refreshVisibleRows()
        return []
    }

    private static func browse(_ key: Key, in state: inout DashboardState) -> [DashboardEffect] {
        state.message = nil
        guard let action = KeyBindings.action(for: key) else { return [] }
        if state.focus == .events, let lines = scrollLines(action, pane: DashboardLayout(state: state).events, state) {
            scrollEvents(&state, back: lines)
            return []
        }
        if state.focus == .detail, let lines = scrollLines(action, pane: DashboardLayout(state: state).detail, state) {
            scrollDetail(&state, by: -lines)
            return []
        }
        switch action {
        case .moveUp: move(&state, by: -1)
        case .moveDown: move(&state, by: 1)
        case .pageUp: move(&state, by: -max(1, tableHeight(state) - 1))
        case .pageDown: move(&state, by: max(1, tableHeight(state) - 1))
        case .home: move(&state, to: 0)
        case .end: move(&state, to: state.visibleRows.count - 1)
        case .cycleFocus:
            if state.focus == .events { state.eventScroll = 0 }
            state.focus = state.focus.next(showsDetail: state.showsDetail)
            if state.focus == .events { state.showsEvents = true }
        case .quit:
            return [.quit]
        case .help:
            state.mode = .help
        case .blocking:
            state.mode = .blocking
        case .filter:
            state.isEditingFilter = true
        case .clearFilter:
            guard !state.filter.isEmpty else { break }
            state.filter = ""
            state.refreshVisibleRows()
        case .sort:
            state.sort = state.sort.next
            state.refreshVisibleRows()
            state.message = "sorted by \(state.sortText)"
        case .invertSort:
            state.isSortDescending.toggle()
            state.refreshVisibleRows()
            state.message = "sorted by \(state.sortText)"
        case .events:
            state.showsEvents.toggle()
        case .detail:
            state.showsDetail.toggle()
        case .freeze:
            state.setFrozen(!state.isFrozen)
            state.message =
                state.isFrozen ? "frozen: the table holds still, events still queue; Z or Space resumes" : "resumed"
        case .toggleRecords:
            state.showsRecords.toggle()
            state.refreshVisibleRows()
            state.message =
                state.showsRecords
                ? "records without a lock shown" : "records without a lock hidden (\(state.data.recordCount) counted)"
        case .copyKey, .copyPath:
            guard let row = state.selectedRow else { break }
            let directory = row.lockName == nil ? state.data.recordsDirectory : state.data.locksDirectory
            let text = action == .copyKey ? row.key : "\(directory)/\(row.lockName ?? row.key)"
            state.message = "copied \(text) to the clipboard (OSC 52)"
            return [.copy(text)]
        case .release:
            release(&state)
        case .breakAll:
            breakAll(&state)
        case .signalHolder:
            return signalHolder(&state)
        case .breakDeadlock:
            if state.isReadOnly {
                state.message = "read-only: breaking is disabled"
            } else if let deadlock = state.data.deadlocks.first {
                state.mode = .chooseDeadlockLock(deadlock)
            } else {
                state.message = "no deadlock is seen"
            }
        }
        clampScroll(&state)
        return []
    }

    /// The status line after a break: what broke and where it is logged, or the first failure.
    static func breakMessage(_ outcomes: [BreakOutcome], auditLog: String) -> String {
        let failures = outcomes.compactMap { $0.failure?.description }
        if let failure = failures.first {
            return failures.count == 1 ? failure : "\(failures.count) not broken; first: \(failure)"
        }
        let what =
            outcomes.count == 1
            ? RecordKey.shownKey(ofLockName: outcomes[0].lockName) : "\(outcomes.count) locks"
        return "broke \(what); logged to \(auditLog)"
    }

    /// Scrolls the event log `lines` back (toward the oldest) or, negative, forward, within what it holds.
    private static func scrollEvents(_ state: inout DashboardState, back lines: Int) {
        let pane = max(1, (DashboardLayout(state: state).events?.height ?? 1) - 1)
        state.eventScroll = max(0, min(state.shownEvents.count - pane, state.eventScroll + lines))
    }

    /// Scrolls the detail pane `lines` down or, negative, up, within what it holds.
    private static func scrollDetail(_ state: inout DashboardState, by lines: Int) {
        let pane = max(1, (DashboardLayout(state: state).detail?.height ?? 1) - 1)
        let count = DashboardRenderer.detailText(state).count
        state.detailScroll = max(0, min(count - pane, state.detailScroll + lines))
    }

    /// How far a move scrolls a focused pane back (positive: up, toward the oldest event) or
    /// forward; nil for other actions.
    private static func scrollLines(_ action: KeyAction, pane: Region?, _ state: DashboardState) -> Int? {
        let page = max(1, (pane?.height ?? 2) - 2)
        switch action {
        case .moveUp: return 1
        case .moveDown: return -1
        case .pageUp: return page
        case .pageDown: return -page
        case .home: return Int(Int32.max)
        case .end: return -Int(Int32.max)
        default: return nil
        }
    }

    private static func release(_ state: inout DashboardState) {
        guard !state.isReadOnly else {
            state.message = "read-only: releasing is disabled"
            return
        }
        guard let row = state.selectedRow else { return }
        openBreakDialog(for: row, in: &state)
    }

    /// The dialog that confirms breaking `row`: expired, stale and suspect locks go with `y`; a
    /// live, unreadable or written one needs its key typed.
    private static func openBreakDialog(for row: LockRow, in state: inout DashboardState) {
        guard row.lockName != nil, let lockState = row.state else {
            state.message =
                row.releasedAt == nil
                ? "\(row.key) has no lock to release" : "\(row.key) is free: its lock file is gone; nothing to release"
            return
        }
        state.mode = lockState.breakAuthority <= .confirmed ? .confirmRelease(row) : .confirmForce(row, typed: "")
    }

    /// `k`: asks to send the holder's process SIGTERM (SIGKILL when it had SIGTERM from here). A
    /// process fanotify saw is in the row; one the lock only names is read afresh first.
    private static func signalHolder(_ state: inout DashboardState) -> [DashboardEffect] {
        guard !state.isReadOnly else {
            state.message = "read-only: signalling is disabled"
            return []
        }
        guard let row = state.selectedRow else { return [] }
        if row.holderProcess == nil, row.lockName != nil, row.liveness == .alive {
            state.pendingSignal = row.id
            return [.loadDetails(RowDetails.Request(row))]
        }
        offerSignal(row, process: row.holderProcess, in: &state)
        return []
    }

    /// Opens the signal dialog for `row`'s holder `process`, when it is a live process on this host
    /// whose start time is known (so that a later process reusing the pid is never signalled) and
    /// the operator may signal it.
    private static func offerSignal(_ row: LockRow, process: ProcessDetails?, in state: inout DashboardState) {
        guard let lockName = row.lockName, row.state != nil, row.liveness == .alive, let process,
            let startTicks = process.startTicks
        else {
            state.message = "\(row.key): its holder is not a live process known on this host; nothing to signal"
            return
        }
        if let operatorUID = state.operatorUID, operatorUID != 0, let owner = process.uid, owner != operatorUID {
            state.message =
                "pid \(process.processID) belongs to \(process.user ?? "uid \(owner)"); only root signals another user's process"
            return
        }
        let target = HolderSignal.Target(
            processID: process.processID, startTicks: startTicks, command: process.command, key: row.key,
            lockFile: "\(state.data.locksDirectory)/\(lockName)", holder: row.holder?.rawValue)
        let again =
            state.lastSignal.map {
                $0.target.processID == target.processID && $0.target.startTicks == startTicks && $0.signal == .terminate
            } ?? false
        state.mode = .confirmSignal(row, target, again ? .kill : .terminate)
    }

    private static func breakAll(_ state: inout DashboardState) {
        guard !state.isReadOnly else {
            state.message = "read-only: breaking is disabled"
            return
        }
        let rows = state.data.rows.filter(\.isBreakableWithoutForce).sorted { $0.key < $1.key }
        if rows.isEmpty {
            state.message = "no expired or stale locks"
        } else {
            state.mode = .confirmBreakAll(rows)
        }
    }

    private static func move(_ state: inout DashboardState, by offset: Int) {
        move(&state, to: (state.selectedIndex ?? 0) + offset)
    }

    private static func move(_ state: inout DashboardState, to index: Int) {
        guard !state.visibleRows.isEmpty else { return }
        state.selectedID = state.visibleRows[max(0, min(state.visibleRows.count - 1, index))].id
    }

    /// Keeps the selection inside the visible part of the table.
    static func clampScroll(_ state: inout DashboardState) {
        state.scrollOffset = TableViewport.offset(
            showing: state.selectedIndex ?? 0, from: state.scrollOffset, count: state.visibleRows.count,
            height: max(1, tableHeight(state)), divider: state.recordDividerIndex)
    }

    /// The number of table rows that fit with the current panes.
    public static func tableHeight(_ state: DashboardState) -> Int {
        DashboardLayout(state: state).table.height
    }
}
