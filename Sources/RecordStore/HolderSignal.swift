import CLocktopSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Signals the process that holds a lock, for an operator, as htop's `k` does (the dashboard's
/// `k`): only the very process that was judged, only one this user may signal, and each signal
/// logged to the audit log first, beside the breaks (a signal line never counts as a break).
public enum HolderSignal {
    /// The signals offered: SIGTERM first, SIGKILL for a holder that outlives it.
    public enum Signal: String, Equatable, Sendable {
        case terminate = "SIGTERM"
        case kill = "SIGKILL"

        var number: Int32 { self == .terminate ? SIGTERM : SIGKILL }
    }

    /// The process to signal, as it was judged, and the lock it holds.
    public struct Target: Equatable, Sendable {
        public var processID: Int32
        /// Its start time in clock ticks since boot: a later process that reuses the pid is not it.
        public var startTicks: UInt64
        /// Its command line, for the log.
        public var command: String
        /// The lock: its key, its file (or Redis lock), and its holder string.
        public var key: String
        public var lockFile: String
        public var holder: String?

        public init(
            processID: Int32, startTicks: UInt64, command: String, key: String, lockFile: String, holder: String?
        ) {
            self.processID = processID
            self.startTicks = startTicks
            self.command = command
            self.key = key
            self.lockFile = lockFile
            self.holder = holder
        }
    }

    /// Why no signal was sent.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The process is gone (or is another process now, reusing its pid).
        case gone(processID: Int32)
        /// It belongs to another user, and this locktop is not root.
        case otherUser(processID: Int32, uid: UInt32)
        /// The log line could not be written, so nothing was sent.
        case notLogged(String)
        /// The kernel refused.
        case failed(processID: Int32, errno: Int32)

        public var description: String {
            switch self {
            case .gone(let pid): return "pid \(pid) is gone (or is another process now): nothing sent"
            case .otherUser(let pid, let uid):
                return
                    "pid \(pid) belongs to \(LockBreaker.userName(of: uid)); only root signals another user's process"
            case .notLogged(let reason): return "nothing sent: the signal could not be logged: \(reason)"
            case .failed(let pid, let code): return "signalling pid \(pid) failed: \(String(cString: strerror(code)))"
            }
        }
    }

    /// Sends `signal` to `target` through a pidfd checked against its start time, after logging
    /// it with `breaker`'s log, name and clock. `operatorUID` is whose permission counts (this
    /// process's effective uid): root may signal any process, anyone else only their own.
    public static func send(
        _ signal: Signal, to target: Target, breaker: LockBreaker, operatorUID: UInt32 = geteuid()
    ) throws(Failure) {
        let pid = target.processID
        let pidfd = locktop_pidfd_open(pid)
        guard pidfd >= 0 else {
            if errno == ESRCH { throw .gone(processID: pid) }
            throw .failed(processID: pid, errno: errno)
        }
        defer { close(pidfd) }
        // The pidfd names whatever process had the pid when it was opened: it is the judged one
        // only if that process started when the judged one did.
        guard ProcessIdentity.startTicks(of: pid) == target.startTicks else { throw .gone(processID: pid) }
        guard let uid = ProcessIdentity.realUID(of: pid) else { throw .gone(processID: pid) }
        if operatorUID != 0, uid != operatorUID { throw .otherUser(processID: pid, uid: uid) }
        do {
            try breaker.auditLog.append(
                AuditLog.Entry(
                    time: breaker.now(), brokenBy: breaker.operatorName, key: target.key, lockFile: target.lockFile,
                    oldHolder: target.holder, oldExpiration: nil,
                    reason: "\(signal.rawValue) to holder pid \(pid): \(target.command)", signal: signal.rawValue,
                    processID: pid))
        } catch {
            throw .notLogged(error.description)
        }
        guard locktop_pidfd_send_signal(pidfd, signal.number) == 0 else {
            if errno == ESRCH { throw .gone(processID: pid) }
            throw .failed(processID: pid, errno: errno)
        }
    }
}
