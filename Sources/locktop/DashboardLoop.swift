import Dashboard
import Foundation
import LockMonitor
import RecordStore
import TerminalBackend
#if canImport(Glibc)
import Glibc
#endif

/// The dashboard's single-threaded loop: waits in poll(2) on the keyboard, the inotify descriptor,
/// the signal descriptor and a one-second tick; feeds the reducer; runs its effects; draws.
struct DashboardLoop {
    let monitor: LockMonitor
    let breaker: LockBreaker
    let isReadOnly: Bool
    let usesColor: Bool
    /// A first status line, such as where the demo logs its breaks.
    let greeting: String?

    /// Runs until `q` or a termination signal; returns the exit status.
    func run() -> Int32 {
        let terminal = Terminal(colors: usesColor)
        defer { terminal.end() }
        let lockOperator = monitor.makeOperator(breaker: breaker)
        let (width, height) = terminal.size
        var state = DashboardState(data: DashboardRowBuilder.data(from: monitor, now: monitor.environment.now(), detailID: nil),
                                   now: monitor.environment.now(), width: width, height: height,
                                   isReadOnly: isReadOnly)
        state.message = greeting ?? monitor.identityNotice
        _ = monitor.takeChanges()
        var nextTick = MonotonicClock.seconds() + 1
        var detailID: String?
        terminal.draw(DashboardRenderer.render(state))
        while true {
            var descriptors = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: terminal.signalDescriptor, events: Int16(POLLIN), revents: 0)]
            for watch in [monitor.fileDescriptor, monitor.identityDescriptor].compactMap({ $0 }) {
                descriptors.append(pollfd(fd: watch, events: Int16(POLLIN), revents: 0))
            }
            let wait = Int32(max(0, (nextTick - MonotonicClock.seconds()) * 1000).rounded(.up))
            _ = poll(&descriptors, nfds_t(descriptors.count), wait)
            if descriptors[1].revents != 0 {
                let signal = terminal.readSignal()
                return signal == 0 ? 0 : 128 + signal
            }
            var ticked = false
            var detailChanged = false
            var events: [MonitorEvent] = []
            if descriptors.dropFirst(2).contains(where: { $0.revents != 0 }) { events += monitor.processChanges() }
            if MonotonicClock.seconds() >= nextTick {
                events += monitor.tick()
                _ = DashboardReducer.reduce(&state, .tick(monitor.environment.now()))
                nextTick = MonotonicClock.seconds() + 1
                ticked = true
            }
            for input in terminal.readInput() {
                let action: DashboardAction
                switch input {
                case let .key(key): action = .key(key)
                case let .resize(width, height): action = .resize(width: width, height: height)
                }
                for effect in DashboardReducer.reduce(&state, action) {
                    switch effect {
                    case .quit:
                        return 0
                    case let .breakLocks(targets, force):
                        _ = DashboardReducer.reduce(&state, .report(breakLocks(targets, force: force, with: lockOperator)))
                    }
                }
            }
            let wantedDetail = state.showsDetail ? state.selectedID : nil
            // The detail pane's reasons and durations move every tick; the table's rows change only
            // when the monitor reports them (time-driven state changes included).
            if wantedDetail != detailID || (ticked && wantedDetail != nil) {
                detailID = wantedDetail
                detailChanged = true
            }
            if !events.isEmpty { _ = DashboardReducer.reduce(&state, .events(events)) }
            var changes = monitor.takeChanges()
            // An open dialog shows its locks judged afresh every tick, so its reasons and countdowns move.
            if ticked { changes.locks.formUnion(state.dialogLockNames) }
            let now = monitor.environment.now()
            if changes.everything {
                _ = DashboardReducer.reduce(&state, .data(DashboardRowBuilder.data(from: monitor, now: now, detailID: detailID)))
            } else if !changes.locks.isEmpty || !changes.records.isEmpty || detailChanged {
                _ = DashboardReducer.reduce(&state, .patch(DashboardRowBuilder.patch(for: changes, from: monitor, now: now, detailID: detailID)))
            }
            terminal.draw(DashboardRenderer.render(state))
        }
    }

    /// Breaks each target if it still holds the bytes the operator was shown; returns the status line.
    /// The `broken` events come from the monitor's watch.
    private func breakLocks(_ targets: [BreakTarget], force: Bool, with lockOperator: LockOperator) -> String {
        var failures: [String] = []
        for target in targets {
            do {
                try monitor.breakLock(named: target.lockName, judgedBytes: target.judgedBytes, with: lockOperator, force: force)
            } catch {
                failures.append("\(error)")
            }
        }
        if let failure = failures.first {
            return failures.count == 1 ? failure : "\(failures.count) not broken; first: \(failure)"
        }
        let what = targets.count == 1 ? RecordKey.lockStem(ofFileName: targets[0].lockName) ?? targets[0].lockName : "\(targets.count) locks"
        return "broke \(what); logged to \(breaker.auditLog.path)"
    }
}
