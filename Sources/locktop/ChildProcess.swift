import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command as a child while this process keeps the termination signals for itself,
/// forwarding them, so cleanup always runs after the child ends.
enum ChildProcess {
    /// The signals forwarded to the child.
    static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    /// The blocked set: the forwarded signals and SIGCHLD.
    static func blockedSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in forwarded + [SIGCHLD] { sigaddset(&set, signal) }
        return set
    }

    /// Blocks the forwarded signals and SIGCHLD, so they queue until ``run(_:)`` or ``pendingTermination()`` takes them.
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

    /// How the child ended.
    enum Ending: Equatable {
        case exited(Int32)
        case signaled(Int32)
        case couldNotStart(Int32)

        /// The shell convention: the exit status, or 128 + the signal.
        var status: Int32 {
            switch self {
            case let .exited(code): return code
            case let .signaled(signal): return 128 + signal
            case let .couldNotStart(code): return code == ENOENT ? 127 : 126
            }
        }
    }

    /// Spawns `arguments` (searched in PATH) with default signal handling and an empty mask,
    /// forwards termination signals to it, and waits for it. Signals must already be blocked.
    static func run(_ arguments: [String]) -> Ending {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = blockedSet()
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var cArguments = arguments.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var child: pid_t = 0
        let spawned = posix_spawnp(&child, arguments[0], nil, &attributes, &cArguments, environ)
        guard spawned == 0 else { return .couldNotStart(spawned) }
        var set = blockedSet()
        while true {
            var status: Int32 = 0
            let waited = waitpid(child, &status, WNOHANG)
            if waited == child {
                let signal = status & 0x7F
                return signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal)
            }
            var received: Int32 = 0
            guard sigwait(&set, &received) == 0 else { continue }
            if received != SIGCHLD { kill(child, received) }
        }
    }
}
