import CLocktopSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A command run as a child that lives and dies with this process: it gets `PR_SET_PDEATHSIG`
/// (SIGTERM), so a `kill -9` of locktop ends it too, and this process keeps the termination
/// signals for itself and forwards them, so cleanup always runs after the child ends.
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

    /// The child's pid.
    let processID: pid_t

    private init(processID: pid_t) {
        self.processID = processID
    }

    /// Starts `arguments` (the first searched in PATH) with this process's environment plus
    /// `environment`, default signal handling and an empty mask. Signals must already be blocked.
    static func start(_ arguments: [String], adding environment: [String: String]) throws(StartFailure) -> ChildProcess
    {
        guard let path = executablePath(arguments[0]) else { throw StartFailure(code: ENOENT) }
        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        var cArguments = arguments.map { strdup($0) } + [nil]
        var cVariables = variables.map { strdup($0) } + [nil]
        defer { for pointer in cArguments + cVariables { free(pointer) } }
        var code: Int32 = 0
        let child = locktop_spawn(path, &cArguments, &cVariables, SIGTERM, &code)
        guard child > 0 else { throw StartFailure(code: code) }
        return ChildProcess(processID: child)
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

    /// Sends `signal` to the child.
    func send(_ signal: Int32) {
        kill(processID, signal)
    }

    /// Sends the child every signal queued on `descriptor` (a ``makeSignalDescriptor()``), but SIGCHLD.
    func forwardSignals(from descriptor: Int32) {
        while case let signal = locktop_signalfd_read(descriptor), signal > 0 {
            if signal != SIGCHLD { send(signal) }
        }
    }
}
