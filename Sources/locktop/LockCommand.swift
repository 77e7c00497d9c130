import ArgumentParser
import CLocktopSystem
import Foundation
import LockMonitor
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// What `locktop lock` does when its lock is broken or replaced while the command runs.
enum LostLockAction: String, ExpressibleByArgument, CaseIterable {
    /// Say so at once and let the command finish.
    case warn
    /// Say so, send the command SIGTERM, and exit 75 after it ends.
    case term
}

struct LockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Run a command while holding a Prefect lock, like flock(1), as a lease.",
        discussion: """
            Takes the lock of KEY through RecordStore (the same file Prefect uses), runs CMD (or the shell \
            string of -c), and releases the lock on every exit path: normal exit, failure, or \
            SIGINT/SIGTERM/SIGHUP/SIGQUIT, which are forwarded to CMD. Prefect processes see the lock and wait.

            The lock is a lease: CMD gets SIGTERM if locktop dies (even by kill -9), so no command runs \
            without its lock; with --hold-timeout T the expiration is renewed every T/3 while CMD runs, \
            without a moment with no lock file. If the lock is broken or replaced while CMD runs, locktop \
            says so at once; with --on-lost=term it also sends CMD SIGTERM. CMD's environment has \
            LOCKTOP_KEY, LOCKTOP_HOLDER and LOCKTOP_LOCK_FILE.

            With --redis URL, the lock is prefect-redis's key lock:KEY: taken with SET NX (PX with \
            --hold-timeout, renewed by compare-and-PEXPIRE), checked every second, deleted by \
            compare-and-delete; Prefect's RedisLockManager waiters see it and wait.

            Exit status: CMD's own status (128+N when CMD dies of signal N); \
            \(LockCommand.notAcquiredStatus) (or -E N) when the lock is not acquired within --wait, and CMD \
            never runs; \(LockCommand.lostStatus) when the lock was lost with --on-lost=term (or before CMD started); 126 when CMD \
            cannot run, 127 when it is not found; 128+N when locktop is stopped by signal N while waiting; \
            1 for other errors, such as a bad key or a missing directory.
            """)

    /// The exit status when the lock is not acquired in time (EX_TEMPFAIL).
    static let notAcquiredStatus: Int32 = 75
    /// The exit status when the lock was lost and `--on-lost=term` ended the command.
    static let lostStatus: Int32 = 75

    @OptionGroup var directories: DirectoryOptions

    @Argument(help: "The record key; its lock file is named by the .lock suffix rule.")
    var key: String

    @Option(help: "The holder written into the lock. Default: host:pid:thread_id:thread_name of this process.")
    var holder: String?

    @Option(
        help: ArgumentHelp(
            "Let the lock expire this many seconds after its last renewal (Prefect's hold_timeout); renewed every third of it while CMD runs. Default: never.",
            valueName: "seconds"))
    var holdTimeout: Double?

    @Option(
        name: [.customShort("w"), .customLong("wait"), .customLong("acquire-timeout")],
        help: ArgumentHelp(
            "Give up after waiting this many seconds. 0 tries once. Default: wait forever.", valueName: "seconds"))
    var wait: Double?

    @Flag(name: [.customShort("n"), .customLong("nonblock")], help: "Try once; do not wait (same as --wait 0).")
    var nonblock = false

    @Option(
        name: [.customShort("E"), .customLong("conflict-exit-code")],
        help: ArgumentHelp("The exit status when the lock is not acquired.", valueName: "status"))
    var conflictExitCode: Int32 = LockCommand.notAcquiredStatus

    @Option(
        name: [.customShort("c"), .customLong("command")],
        help: ArgumentHelp("Run this string with /bin/sh -c instead of CMD.", valueName: "shell-command"))
    var shellCommand: String?

    @Option(
        help: ArgumentHelp(
            "When the lock is broken or replaced while CMD runs: warn (say so) or term (also SIGTERM CMD, then exit 75).",
            valueName: "action"))
    var onLost: LostLockAction = .warn

    @Option(
        help: ArgumentHelp(
            "Seconds between the SIGTERM that ends CMD's process group (at exit, on loss, on a forwarded signal) and a SIGKILL.",
            valueName: "seconds"))
    var killAfter: Double = 10

    @Flag(help: "Say who holds the lock while waiting, and how long the wait took.")
    var verbose = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run, after --.", valueName: "cmd"))
    var command: [String] = []

    func validate() throws {
        if command.isEmpty && shellCommand == nil {
            throw ValidationError(
                "give the command to run after --, or -c 'shell command'; for example: locktop lock KEY -- make deploy")
        }
        if !command.isEmpty && shellCommand != nil {
            throw ValidationError("give the command after -- or with -c, not both")
        }
        if let holdTimeout, !(holdTimeout > 0 && holdTimeout.isFinite) {
            throw ValidationError("--hold-timeout must be a positive number of seconds")
        }
        if let wait, !(wait >= 0 && wait.isFinite) { throw ValidationError("--wait must be zero or more seconds") }
        if nonblock && wait != nil { throw ValidationError("--nonblock and --wait do not go together") }
        if !(0...255).contains(conflictExitCode) { throw ValidationError("--conflict-exit-code takes 0 to 255") }
        if holder?.isEmpty == true { throw ValidationError("--holder cannot be empty") }
        if !(killAfter >= 0 && killAfter.isFinite) {
            throw ValidationError("--kill-after must be zero or more seconds")
        }
    }

    func run() throws {
        if let redis = directories.redisURL { return try runRedis(redis) }
        try Console.failing { try RecordKey.validate(key) }
        let arguments = shellCommand.map { ["/bin/sh", "-c", $0] } ?? command
        let store = FileSystemRecordStore(
            recordsDirectory: URL(fileURLWithPath: directories.recordsDirectory),
            locksDirectory: URL(fileURLWithPath: directories.resolvedLocksDirectory))
        // The locks directory is opened here, once (never through a link): the lock is made, watched
        // and removed in that directory, wherever its path leads later.
        _ = try Console.failing { try store.locks() }
        let holder = self.holder ?? FileSystemRecordStore.defaultHolder()
        ChildProcess.blockSignals()
        // Forked before the lock is taken, so that the lock names it: should locktop die, the lock
        // is not stale while the watchdog ends the command's group.
        let watchdog = Watchdog.start()
        defer { watchdog?.dismiss() }
        try acquire(store: store, holder: holder, program: arguments[0], guardian: watchdog?.identity)
        let lease = try Console.failing {
            try LockLease(
                store: store, key: key, holder: holder, holdTimeout: holdTimeout, auditLog: AuditLog.defaultLocation())
        }
        if let loss = lease.verify() {
            Console.warn("lock \"\(key)\" was lost before \(arguments[0]) started (\(loss)); it did not run")
            throw ExitCode(Self.lostStatus)
        }
        try runHoldingLock(
            arguments, location: lease.path, holder: holder, watchdog: watchdog,
            supervise: { child in
                let (ending, loss) = supervise(child, lease: lease)
                return (ending, loss != nil)
            },
            release: { try store.releaseLock(key: key, holder: holder) })
    }

    /// Runs `arguments` while the lock at `location` is held, its group watched by `watchdog`: `supervise` waits for the command and
    /// says whether the lock was lost meanwhile; `release` lets it go unless it was. Exits with the
    /// command's status, or ``lostStatus`` when the lock was lost and `--on-lost=term` ended it.
    func runHoldingLock(
        _ arguments: [String], location: String, holder: String, watchdog: Watchdog?,
        supervise: (ChildProcess) -> (ChildProcess.Ending, Bool), release: () throws -> Void
    ) throws {
        let environment = ["LOCKTOP_KEY": key, "LOCKTOP_HOLDER": holder, "LOCKTOP_LOCK_FILE": location]
        let status: Int32
        var lost = false
        do {
            // Orphans of the command come to locktop, so that it can wait for the whole group.
            _ = locktop_become_subreaper()
            let child = try ChildProcess.start(arguments, adding: environment, watchdog: watchdog)
            let ending: ChildProcess.Ending
            (ending, lost) = supervise(child)
            // No process of the command outlives its lock: the rest of its group ends first.
            child.endGroup(killAfter: killAfter)
            status = ending.status
        } catch {
            Console.warn("error: cannot run \(arguments[0]): \(error)")
            status = error.status
        }
        if !lost {
            do {
                try release()
            } catch {
                Console.warn("warning: could not release the lock of \"\(key)\": \(error)")
            }
        }
        if lost && onLost == .term { throw ExitCode(Self.lostStatus) }
        throw ExitCode(status)
    }

    /// Takes the lock, checking for termination signals every quarter second; with `--verbose`, says
    /// who holds it while waiting. Throws the exit status when it is not acquired.
    private func acquire(store: FileSystemRecordStore, holder: String, program: String, guardian: ProcessIdentity?)
        throws
    {
        let started = MonotonicClock.seconds()
        let deadline = nonblock ? started : wait.map { started + $0 }
        var announced: String?
        while true {
            if let signal = ChildProcess.pendingTermination() { throw ExitCode(128 + signal) }
            let remaining = deadline.map { max(0, $0 - MonotonicClock.seconds()) }
            let acquired = try Console.failing {
                try store.acquireLock(
                    key: key, holder: holder, acquireTimeout: min(remaining ?? 0.25, 0.25), holdTimeout: holdTimeout,
                    guardian: guardian)
            }
            if acquired {
                if verbose {
                    Console.warn("got \"\(key)\" after \(String(format: "%.1f", MonotonicClock.seconds() - started))s")
                }
                return
            }
            if verbose, let description = describeHolder(store), description != announced {
                Console.warn("waiting for \"\(key)\", held by \(description)")
                announced = description
            }
            if let remaining, remaining <= 0 {
                Console.warn("lock \"\(key)\" was not acquired within \(wait ?? 0) s; \(program) did not run")
                throw ExitCode(conflictExitCode)
            }
        }
    }

    /// `HOLDER (pid N, alive)` for the lock that is there now.
    private func describeHolder(_ store: FileSystemRecordStore) -> String? {
        switch try? store.observeLock(key: key) {
        case .readable(let snapshot)?:
            let content = snapshot.content
            let liveness = LockClassifier.liveness(of: content, environment: .live)
            let process =
                content.namedProcess.processID.map { "pid \($0), \(liveness.rawValue)" }
                ?? "process \(liveness.rawValue)"
            return "\(content.holder) (\(process))"
        case .beingWritten?: return "a lock file being written"
        case .unreadable?: return "an unreadable lock file"
        case .absent?, nil: return nil
        }
    }

    /// Waits for `child` while forwarding signals, renewing the lease and watching for its loss.
    private func supervise(_ child: ChildProcess, lease: LockLease) -> (ChildProcess.Ending, LockLease.Loss?) {
        let signals = ChildProcess.makeSignalDescriptor()
        defer { close(signals) }
        var nextRenewal = lease.renewalInterval.map { MonotonicClock.seconds() + $0 }
        var loss: LockLease.Loss?
        while true {
            if let ending = child.reap() { return (ending, loss) }
            var descriptors = [
                pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
                pollfd(fd: lease.fileDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            let renewalTimeout = nextRenewal.map { Int32(max(0, ($0 - MonotonicClock.seconds()) * 1000).rounded(.up)) }
            let timeout = [renewalTimeout, child.escalateIfDue()].compactMap { $0 }.min() ?? -1
            _ = poll(&descriptors, 2, timeout)
            child.forwardSignals(from: signals, killAfter: killAfter)
            var lost: LockLease.Loss?
            if descriptors[1].revents != 0 { lost = lease.checkForLoss() }
            if lost == nil, let due = nextRenewal, MonotonicClock.seconds() >= due {
                do {
                    lost = try lease.renew()
                } catch {
                    Console.warn("warning: could not renew the lock of \"\(key)\": \(error)")
                }
                nextRenewal = due + (lease.renewalInterval ?? 0)
            }
            if loss == nil, let lost {
                loss = lost
                nextRenewal = nil
                Console.warn(
                    "lock \"\(key)\" was lost (\(lost))"
                        + (onLost == .term ? "; stopping \(child.processID) with SIGTERM" : ""))
                if onLost == .term { child.terminate(killAfter: killAfter) }
            }
        }
    }
}
