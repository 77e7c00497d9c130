import ArgumentParser
import Foundation
import LockMonitor
import RecordStore

struct LockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Run a command while holding a Prefect lock, like flock(1).",
        discussion: """
            Takes the lock of KEY through RecordStore (the same file Prefect uses), runs CMD, and \
            releases the lock on every exit path: normal exit, failure, or SIGINT/SIGTERM/SIGHUP/SIGQUIT, \
            which are forwarded to CMD. Prefect processes see the lock and wait for it.

            Exit status: CMD's own status (128+N when CMD dies of signal N); \
            \(LockCommand.notAcquiredStatus) when the lock is not acquired within --acquire-timeout, and CMD never runs; \
            127 when CMD is not found; 1 for other errors, such as a bad key or a missing directory.
            """)

    /// The exit status when the lock is not acquired in time (EX_TEMPFAIL).
    static let notAcquiredStatus: Int32 = 75

    @OptionGroup var directories: DirectoryOptions

    @Argument(help: "The record key; its lock file is named by the .lock suffix rule.")
    var key: String

    @Option(help: "The holder written into the lock. Default: host:pid:thread_id:thread_name of this process.")
    var holder: String?

    @Option(help: ArgumentHelp("Let the lock expire after this many seconds (Prefect's hold_timeout). Default: never.", valueName: "seconds"))
    var holdTimeout: Double?

    @Option(help: ArgumentHelp("Give up after waiting this many seconds. 0 tries once. Default: wait forever.", valueName: "seconds"))
    var acquireTimeout: Double?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run, after --.", valueName: "cmd"))
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command to run after --, for example: locktop lock KEY -- make deploy") }
        if let holdTimeout, !(holdTimeout > 0 && holdTimeout.isFinite) { throw ValidationError("--hold-timeout must be a positive number of seconds") }
        if let acquireTimeout, !(acquireTimeout >= 0 && acquireTimeout.isFinite) { throw ValidationError("--acquire-timeout must be zero or more seconds") }
        if holder?.isEmpty == true { throw ValidationError("--holder cannot be empty") }
    }

    func run() throws {
        try directories.requireDirectories()
        try Console.failing { try RecordKey.validate(key) }
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directories.resolvedLocksDirectory))
        let holder = self.holder ?? FileSystemRecordStore.defaultHolder()
        ChildProcess.blockSignals()
        let deadline = acquireTimeout.map { MonotonicClock.seconds() + $0 }
        var acquired = false
        while !acquired {
            if let signal = ChildProcess.pendingTermination() { throw ExitCode(128 + signal) }
            let remaining = deadline.map { max(0, $0 - MonotonicClock.seconds()) }
            acquired = try Console.failing {
                try store.acquireLock(key: key, holder: holder, acquireTimeout: min(remaining ?? 0.25, 0.25), holdTimeout: holdTimeout)
            }
            if !acquired, let remaining, remaining <= 0 {
                Console.warn("lock \"\(key)\" was not acquired within \(acquireTimeout ?? 0) s; \(command[0]) did not run")
                throw ExitCode(LockCommand.notAcquiredStatus)
            }
        }
        let ending = ChildProcess.run(command)
        if case let .couldNotStart(code) = ending {
            Console.warn("error: cannot run \(command[0]): \(String(cString: strerror(code)))")
        }
        do {
            try store.releaseLock(key: key, holder: holder)
        } catch {
            Console.warn("warning: could not release the lock of \"\(key)\": \(error)")
        }
        throw ExitCode(ending.status)
    }
}
