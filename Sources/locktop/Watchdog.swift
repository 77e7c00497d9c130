import CLocktopSystem
import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// The watchdog of a command's process group (`locktop_start_watchdog`): started before the lock
/// is taken, so that the lock names it as its guardian. If locktop dies, even by SIGKILL, it ends
/// the command's whole group and lives until none of it is left: the lock is not stale before.
final class Watchdog {
    /// Its pid.
    let processID: pid_t
    private var dismissed = false

    private init(processID: pid_t) {
        self.processID = processID
    }

    /// Forks the watchdog; nil (with the reason said) when it cannot be forked.
    static func start() -> Watchdog? {
        let pid = locktop_start_watchdog()
        guard pid > 0 else {
            Console.warn(
                "warning: no watchdog (\(String(cString: strerror(errno)))); a SIGKILL of locktop may leave the command running"
            )
            return nil
        }
        return Watchdog(processID: pid)
    }

    /// Who it is, as a lock file names it.
    var identity: ProcessIdentity {
        ProcessIdentity(
            hostName: ProcessIdentity.current.hostName, processID: processID,
            startTicks: ProcessIdentity.startTicks(of: processID))
    }

    /// Dismisses it (SIGTERM) and waits for it to go: once the command's group is gone, or when no
    /// group came to be.
    func dismiss() {
        guard !dismissed else { return }
        dismissed = true
        kill(processID, SIGTERM)
        var status: Int32 = 0
        while waitpid(processID, &status, 0) < 0 && errno == EINTR {}
    }
}
