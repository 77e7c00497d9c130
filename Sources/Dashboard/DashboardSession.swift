import Foundation
import LockMonitor
import RecordStore

/// The dashboard's single-threaded loop over a ``DashboardBackend``: the monitor's ``MonitorLoop``
/// also waits on the input and the signal descriptor; each turn feeds the reducer, runs its
/// effects, and draws. ``step(timeout:)`` is one turn, so tests drive it with an
/// ``InMemoryBackend`` and no terminal.
public final class DashboardSession {
    private let monitor: LockMonitor
    private let loop: MonitorLoop
    private let breaker: LockBreaker
    private let backend: DashboardBackend
    private let lockOperator: LockOperator
    /// The reducer's state after the last turn.
    public private(set) var state: DashboardState
    private var detailID: String?

    /// A session over `monitor`, drawn on `backend`; `greeting` is a first status line, such as
    /// where the demo logs its breaks. Draws the first screen.
    public init(monitor: LockMonitor, breaker: LockBreaker, backend: DashboardBackend, isReadOnly: Bool, greeting: String? = nil) {
        self.monitor = monitor
        loop = MonitorLoop(monitor: monitor)
        self.breaker = breaker
        self.backend = backend
        lockOperator = monitor.makeOperator(breaker: breaker)
        let (width, height) = backend.size
        let now = monitor.environment.now()
        state = DashboardState(data: DashboardRowBuilder.data(from: monitor, now: now), now: now,
                               width: width, height: height, isReadOnly: isReadOnly)
        state.message = greeting ?? monitor.identityNotice
        _ = monitor.takeChanges()
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
        if ticked, dispatch(.tick(monitor.environment.now())) { return 0 }
        for input in backend.readInput() {
            let action: DashboardAction
            switch input {
            case let .key(key): action = .key(key)
            case let .resize(width, height): action = .resize(width: width, height: height)
            case let .click(x, y): action = .click(x: x, y: y)
            case let .wheel(lines): action = .wheel(lines: lines)
            }
            if dispatch(action) { return 0 }
        }
        let wantedDetail = state.showsDetail ? state.selectedID : nil
        // The detail pane's reasons and durations move every tick; the table's rows change only
        // when the monitor reports them (time-driven state changes included).
        var detailChanged = false
        if wantedDetail != detailID || (ticked && wantedDetail != nil) {
            detailID = wantedDetail
            detailChanged = true
        }
        if !turn.events.isEmpty { _ = dispatch(.events(turn.events)) }
        var changes = monitor.takeChanges()
        // An open dialog shows its locks judged afresh every tick, so its reasons and countdowns move.
        if ticked { changes.locks.formUnion(state.dialogLockNames) }
        let now = monitor.environment.now()
        if changes.everything {
            _ = dispatch(.data(DashboardRowBuilder.data(from: monitor, now: now)))
        } else if !changes.locks.isEmpty || !changes.records.isEmpty || detailChanged {
            _ = dispatch(.patch(DashboardRowBuilder.patch(for: changes, from: monitor, shown: state.data, now: now, detailID: detailID)))
        }
        backend.draw(DashboardRenderer.render(state))
        return nil
    }

    /// Feeds `action` to the reducer and runs the effects it asks for; true when the dashboard is to quit.
    private func dispatch(_ action: DashboardAction) -> Bool {
        for effect in DashboardReducer.reduce(&state, action) {
            switch effect {
            case .quit:
                return true
            case let .copy(text):
                backend.copyToClipboard(text)
            case let .breakLocks(targets, force):
                _ = dispatch(.breakFinished(breakLocks(targets, force: force), auditLog: breaker.auditLog.path))
            case let .loadDetails(request):
                let details = RowDetails(rowID: request.rowID, recordSummary: request.recordKey.flatMap(monitor.recordSummary(ofRecord:)),
                                         holderProcess: request.lockName.flatMap(monitor.holderProcess(ofLock:)))
                _ = dispatch(.detailsLoaded(details))
            }
        }
        return false
    }

    /// Breaks each target if it still holds the bytes the operator was shown; the `broken` events
    /// come from the monitor's watch.
    private func breakLocks(_ targets: [BreakTarget], force: Bool) -> [BreakOutcome] {
        targets.map { target in
            do {
                try monitor.breakLock(named: target.lockName, judgedBytes: target.judgedBytes, with: lockOperator, force: force)
                return BreakOutcome(lockName: target.lockName)
            } catch {
                return BreakOutcome(lockName: target.lockName, failure: "\(error)")
            }
        }
    }
}
