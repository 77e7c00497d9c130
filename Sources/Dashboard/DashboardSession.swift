import Foundation
import LockMonitor
import RecordStore

/// The dashboard's single-threaded loop over a ``DashboardBackend``: the source's ``MonitorLoop``
/// also waits on the input and the signal descriptor; each turn feeds the reducer, runs its
/// effects, and draws. ``step(timeout:)`` is one turn, so tests drive it with an
/// ``InMemoryBackend`` and no terminal.
public final class DashboardSession {
    private let source: DashboardSource
    private let loop: MonitorLoop
    private let backend: DashboardBackend
    /// The reducer's state after the last turn.
    public private(set) var state: DashboardState
    private var detailID: RowID?
    private let recorder: TurnRecorder?
    /// Keys handled before the reducer while the operator browses (a replay's pause, step and
    /// seek): the events a key brought, or nil when it is not one of them.
    public var interceptKey: ((Key) -> [MonitorEvent]?)?

    /// A session over `source`, drawn on `backend`; `greeting` is a first status line, such as
    /// where the demo logs its breaks; `recorder` keeps each turn (`--record`). Draws the first screen.
    public init(
        source: DashboardSource, backend: DashboardBackend, isReadOnly: Bool, greeting: String? = nil,
        recorder: TurnRecorder? = nil
    ) {
        self.source = source
        self.recorder = recorder
        loop = MonitorLoop(source: source.lockSource)
        self.backend = backend
        let (width, height) = backend.size
        let now = source.lockSource.environment.now()
        state = DashboardState(
            data: source.data(now: now), now: now, width: width, height: height, isReadOnly: isReadOnly)
        state.operatorUID = geteuid()
        state.message = greeting ?? source.lockSource.notice
        _ = source.lockSource.takeChanges()
        recorder?.record([], upserts: state.data.rows, removals: [], replacingAll: true, at: now)
        backend.draw(DashboardRenderer.render(state))
    }

    /// Runs until `q` or a termination signal; returns the exit status.
    public func run() -> Int32 {
        while true {
            if let status = step() { return status }
        }
    }

    /// One turn: waits for input, a change or the tick (at most `timeout` seconds when given),
    /// handles what came, and draws. Returns the exit status once the dashboard should end.
    public func step(timeout: Double? = nil) -> Int32? {
        let turn = loop.turn(alsoWaitingOn: [backend.inputDescriptor, backend.signalDescriptor], timeout: timeout)
        if turn.readyDescriptors.contains(backend.signalDescriptor) {
            let signal = backend.readSignal()
            return signal == 0 ? 0 : 128 + signal
        }
        let ticked = turn.ticked
        if ticked, dispatch(.tick(source.lockSource.environment.now())) { return 0 }
        for input in backend.readInput() {
            if case .key(let key) = input, state.mode == .browsing || state.mode == .blocking, !state.isEditingFilter,
                let events = interceptKey?(key)
            {
                if !events.isEmpty { _ = dispatch(.events(events)) }
                continue
            }
            let action: DashboardAction
            switch input {
            case .key(let key): action = .key(key)
            case .resize(let width, let height): action = .resize(width: width, height: height)
            case .click(let x, let y): action = .click(x: x, y: y)
            case .wheel(let lines): action = .wheel(lines: lines)
            }
            if dispatch(action) { return 0 }
        }
        let wantedDetail = state.showsDetail ? state.selectedID : nil
        // What the operator looks at is judged every tick: the detail pane's lock and an open dialog's.
        source.lockSource.closelyWatched = state.dialogLockNames.union(wantedDetail?.lockName.map { [$0] } ?? [])
        // The detail pane's reasons and durations move every tick; the table's rows change only
        // when the monitor reports them (time-driven state changes included).
        var detailChanged = false
        if wantedDetail != detailID || (ticked && wantedDetail != nil) {
            detailID = wantedDetail
            detailChanged = true
        }
        if !turn.events.isEmpty { _ = dispatch(.events(turn.events)) }
        var changes = source.lockSource.takeChanges()
        // An open dialog's locks are redrawn every tick, so their countdowns move.
        if ticked { changes.locks.formUnion(state.dialogLockNames) }
        let now = source.lockSource.environment.now()
        var recordedRows: (upserts: [LockRow], removals: [RowID], all: Bool) = ([], [], false)
        if changes.everything {
            let data = source.data(now: now)
            recordedRows = (data.rows, [], true)
            _ = dispatch(.data(data))
        } else if !changes.locks.isEmpty || !changes.records.isEmpty || detailChanged
            || (ticked && source.storeTrouble != state.data.storeTrouble)
        {
            // (A server that stops answering changes no lock: the header follows it every tick.)
            let patch = source.patch(for: changes, shown: state.data, now: now, detailID: detailID)
            recordedRows = (patch.upserts, Array(patch.removals), false)
            _ = dispatch(.patch(patch))
        }
        recorder?.record(
            turn.events, upserts: recordedRows.upserts, removals: recordedRows.removals,
            replacingAll: recordedRows.all, at: now)
        backend.draw(DashboardRenderer.render(state))
        return nil
    }

    /// Feeds `action` to the reducer and runs the effects it asks for; true when the dashboard is to quit.
    private func dispatch(_ action: DashboardAction) -> Bool {
        for effect in DashboardReducer.reduce(&state, action) {
            switch effect {
            case .quit:
                return true
            case .copy(let text):
                backend.copyToClipboard(text)
            case .breakLocks(let targets, let authority):
                _ = dispatch(
                    .breakFinished(source.breakLocks(targets, authority: authority), auditLog: source.auditLogPath))
            case .loadDetails(let request):
                _ = dispatch(.detailsLoaded(source.details(for: request)))
            case .signalHolder(let target, let signal):
                var failure: String?
                do throws(HolderSignal.Failure) {
                    try HolderSignal.send(signal, to: target, breaker: source.breaker)
                } catch {
                    failure = error.description
                }
                _ = dispatch(.signalFinished(target, signal, failure: failure, auditLog: source.auditLogPath))
            }
        }
        return false
    }
}
