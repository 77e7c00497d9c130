import CLocktopSystem
import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// A command run as a child that lives and dies with this process, in a process group of its own:
/// its leader gets `PR_SET_PDEATHSIG` (SIGKILL) and a watchdog sends the whole group SIGKILL, so a
/// `kill -9` of locktop ends it all; this process keeps the termination signals for itself and
/// forwards them to the group, so cleanup always runs after the group ends.
final class ChildProcess {
    /// The signals forwarded to the child.
    static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    /// The blocked set: the forwarded signals and SIGCHLD.
    static func blockedSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in forwarded + [SIGCHLD] { sigaddset(&set, signal) }
        return set
    }

    /// Blocks the forwarded signals and SIGCHLD, so they queue until a signalfd or ``pendingTermination()`` takes them.
    static func blockSignals() {
        var set = blockedSet()
        sigprocmask(SIG_BLOCK, &set, nil)
    }

    /// A termination signal that arrived while blocked, if any.
    static func pendingTermination() -> Int32? {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in forwarded { sigaddset(&set, signal) }
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        let signal = sigtimedwait(&set, nil, &zero)
        return signal > 0 ? signal : nil
    }

    /// A signalfd for the blocked set, to wait on with `poll(2)` beside other descriptors.
    static func makeSignalDescriptor() -> Int32 {
        let signals = forwarded + [SIGCHLD]
        return signals.withUnsafeBufferPointer { locktop_signalfd($0.baseAddress, Int32($0.count)) }
    }

    /// How the child ended.
    enum Ending: Equatable {
        case exited(Int32)
        case signaled(Int32)

        /// The shell convention: the exit status, or 128 + the signal.
        var status: Int32 {
            switch self {
            case .exited(let code): return code
            case .signaled(let signal): return 128 + signal
            }
        }
    }

    /// Why the command could not start: the errno of the failed fork or exec.
    struct StartFailure: Error, CustomStringConvertible {
        var code: Int32

        /// The shell convention: 127 when the command is not found, 126 when it cannot run.
        var status: Int32 { code == ENOENT ? 127 : 126 }

        var description: String { String(cString: strerror(code)) }
    }

    /// The child's pid, which is also its process group's id.
    let processID: pid_t
    /// The watchdog told to watch the group, if any.
    private let watchdog: Watchdog?
    /// When a termination signal went to the group without ending it: SIGKILL follows at this time.
    private var killAt: Double?

    private init(processID: pid_t, watchdog: Watchdog?) {
        self.processID = processID
        self.watchdog = watchdog
    }

    /// Starts `arguments` (the first searched in PATH) with this process's environment plus
    /// `environment`, default signal handling and an empty mask, and tells `watchdog` to watch its
    /// group. Signals must already be blocked.
    static func start(_ arguments: [String], adding environment: [String: String], watchdog: Watchdog?)
        throws(StartFailure) -> ChildProcess
    {
        guard let path = executablePath(arguments[0]) else { throw StartFailure(code: ENOENT) }
        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        var cArguments = arguments.map { strdup($0) } + [nil]
        var cVariables = variables.map { strdup($0) } + [nil]
        defer { for pointer in cArguments + cVariables { free(pointer) } }
        var code: Int32 = 0
        let child = locktop_spawn(path, &cArguments, &cVariables, SIGKILL, &code, watchdog?.processID ?? 0)
        guard child > 0 else { throw StartFailure(code: code) }
        return ChildProcess(processID: child, watchdog: watchdog)
    }

    /// `name` itself when it holds a slash, else the first executable file of that name in PATH.
    static func executablePath(_ name: String) -> String? {
        if name.contains("/") { return name }
        let search = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in search.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            var isDirectory: ObjCBool = false
            if access(candidate, X_OK) == 0,
                FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue
            {
                return candidate
            }
        }
        return nil
    }

    /// How the child ended, if it has; never blocks.
    func reap() -> Ending? {
        var status: Int32 = 0
        guard waitpid(processID, &status, WNOHANG) == processID else { return nil }
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal)
    }

    /// Sends `signal` to the child's whole process group.
    func send(_ signal: Int32) {
        kill(-processID, signal)
    }

    /// Sends the group a termination signal, and SIGKILL `killAfter` seconds later unless it ended by then.
    func terminate(_ signal: Int32 = SIGTERM, killAfter: TimeInterval) {
        send(signal)
        if killAt == nil { killAt = MonotonicClock.seconds() + killAfter }
    }

    /// Sends SIGKILL to the group once a termination is overdue; the milliseconds until it is, for `poll(2)`.
    func escalateIfDue() -> Int32? {
        guard let killAt else { return nil }
        let remaining = killAt - MonotonicClock.seconds()
        if remaining > 0 { return Int32((remaining * 1000).rounded(.up)) }
        send(SIGKILL)
        self.killAt = nil
        return nil
    }

    /// Forwards to the group every signal queued on `descriptor` (a ``makeSignalDescriptor()``), but
    /// SIGCHLD; a termination signal is followed by SIGKILL after `killAfter`.
    func forwardSignals(from descriptor: Int32, killAfter: TimeInterval) {
        while case let signal = locktop_signalfd_read(descriptor), signal > 0 {
            if signal != SIGCHLD { terminate(signal, killAfter: killAfter) }
        }
    }

    /// Ends whatever of the group is left (after the leader ended: background children, which come
    /// to this process as their subreaper), with SIGTERM and then SIGKILL after `killAfter`, and
    /// waits until none is left. Then the watchdog is dismissed: every way out but this process's
    /// own death comes here, so the watchdog never fires at a group id reused since. Only then may
    /// the lock go.
    func endGroup(killAfter: TimeInterval) {
        func groupRemains() -> Bool {
            var status: Int32 = 0
            while waitpid(-1, &status, WNOHANG) > 0 {}
            return kill(-processID, 0) == 0 || errno == EPERM
        }
        if groupRemains() {
            send(SIGTERM)
            let killAt = MonotonicClock.seconds() + killAfter
            while groupRemains() && MonotonicClock.seconds() < killAt { usleep(10_000) }
            if groupRemains() {
                send(SIGKILL)
                let giveUp = MonotonicClock.seconds() + 5
                while groupRemains() && MonotonicClock.seconds() < giveUp { usleep(10_000) }
            }
        }
        watchdog?.dismiss()
    }
}
