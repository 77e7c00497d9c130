import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// The simulated workload behind `locktop demo`: worker processes that use `RecordStore` the way
/// Prefect tasks do, with every kind of trouble an operator meets.
struct DemoWorkload {
    let directory: String
    let index: Int
    let parent: Int32

    /// Keys with realistic shapes; the `orders.*` keys share `orders.lock`, as Prefect's suffix rule makes them.
    static let keys = [
        "orders.extract", "orders.transform", "orders.load", "users-sync", "report-daily", "billing-3f9a",
        "cache-warm", "ml-features", "invoices-2026-11", "etl-customers",
    ]

    /// The workers' names, as `ps` shows them.
    static let names = ["orders", "users", "reports", "billing", "ml", "invoices", "etl", "cache"]

    static func makeDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() + "locktop-demo-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw RecordStoreError.system(
                operation: "create demo directory", path: NSTemporaryDirectory(), errno: errno)
        }
        return String(cString: made)
    }

    /// The pid of a process that ran and is gone: `/bin/true`, started and reaped.
    private static func goneProcessID() -> pid_t {
        var pid: pid_t = 0
        let arguments: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { free(arguments[0]) }
        guard posix_spawn(&pid, "/bin/true", nil, nil, arguments, environ) == 0 else { return 999_999 }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return pid
    }

    /// Locks that are already in trouble when the demo opens: expired, stale, suspect, unreadable, plus idle records.
    static func seed(_ directory: String) throws {
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        let host = ProcessIdentity.current.hostName
        for key in ["archive-2026-10", "orders.extract", "report-daily", "nightly-backup"] {
            try store.write(
                key: key,
                result: Data(#"{"type":"reference","serializer_type":"pickle","storage_key":"\#(key)-result"}"#.utf8))
        }
        let expired = LockFileContent(
            holder: "\(host):4242:140001:MainThread", expiration: Date().addingTimeInterval(-95))
        _ = try LockFiles.create(path: "\(directory)/nightly-backup.lock", bytes: expired.encoded())
        // A worker that crashed: its lock names a pid that is gone (a child run and reaped here).
        let crashed = LockFileContent(holder: "\(host):\(goneProcessID()):140002:MainThread", expiration: nil)
        _ = try LockFiles.create(path: "\(directory)/report-daily.lock", bytes: crashed.encoded())
        // Prefect 3.1+ transactions: a UUID holder, no expiration, nothing that says who holds it.
        // One was left ten minutes ago (suspect past the demo's --stale-after); one is fresh (held?).
        let abandoned = "\(directory)/archive-2026-10.lock"
        _ = try LockFiles.create(
            path: abandoned, bytes: LockFileContent(holder: UUID().uuidString.lowercased(), expiration: nil).encoded())
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(-600)], ofItemAtPath: abandoned)
        _ = try LockFiles.create(
            path: "\(directory)/ml-features.lock",
            bytes: LockFileContent(holder: UUID().uuidString.lowercased(), expiration: nil).encoded())
        let corrupt = "\(directory)/ledger.lock"
        _ = FileManager.default.createFile(
            atPath: corrupt, contents: Data(#"{"holder": "ledger-wor"#.utf8),
            attributes: [.modificationDate: Date().addingTimeInterval(-600)])
    }

    /// Starts `count` workers in a new process group and returns the group id.
    static func startWorkers(count: Int, directory: String) -> pid_t {
        var group: pid_t = 0
        for index in 0..<count {
            let pid = spawnWorker(directory: directory, index: index, parent: getpid(), group: group)
            if group == 0 { group = pid }
        }
        return group
    }

    /// Spawns one worker of this executable, in process group `group` (0 starts a new one).
    @discardableResult
    static func spawnWorker(directory: String, index: Int, parent: pid_t, group: pid_t) -> pid_t {
        // `ps` shows `locktop demo-worker orders ...`.
        spawn(
            [
                "demo-worker", names[index % names.count], "--dir", directory, "--index", String(index), "--parent",
                String(parent),
            ], group: group)
    }

    /// Spawns host `number`'s workers of `locktop demo --hosts` (``DemoOtherHost``): two helpers
    /// and the seeded orphan, in process group `group`.
    /// As root, each worker runs in a namespace set of its own (`unshare --uts --pid --mount
    /// --fork --mount-proc`) with its host name, so this host's `/proc` cannot see it, as on a real
    /// other machine; it dies with its `unshare`. Without root, they are processes here that name
    /// another host.
    static func spawnOtherHost(_ number: Int, directory: String, group: pid_t) {
        let host = DemoOtherHost.hostName(number)
        let unshare = "/usr/bin/unshare"
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        // Inside a pid namespace the demo's pid is out of sight: the worker watches a pipe whose
        // only writer is the demo instead, and ends when it hangs up. Only a worker that runs in
        // its own namespaces is told so (it sets the host name there).
        let lifeline =
            getuid() == 0 && access(unshare, X_OK) == 0 && !executable.isEmpty ? demoLifeline : nil
        for index in 0..<3 {
            let worker =
                [
                    "demo-worker", host, "--dir", directory, "--index", String(index), "--host", host,
                    "--parent", String(getpid()),
                ] + (index == 2 ? ["--orphan"] : [])
            if let lifeline {
                spawn(
                    worker + ["--namespaced", "--lifeline", String(lifeline)], group: group, executable: unshare,
                    through: [
                        "unshare", "--uts", "--pid", "--mount", "--fork", "--mount-proc", "--kill-child", executable,
                    ])
            } else {
                spawn(worker, group: group)
            }
        }
    }

    /// The read end of a pipe whose write end only this process holds (close-on-exec), for
    /// workers that cannot see its pid: it hangs up when the demo ends, even by `kill -9`.
    static let demoLifeline: Int32? = {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return nil }
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        return ends[0]
    }()

    /// Spawns this executable as `locktop ARGUMENTS...` in process group `group` (0 starts a new
    /// one), with no terminal and an empty signal mask; or `executable`, as `through` followed by
    /// the arguments, when given (a wrapper that runs this executable).
    @discardableResult
    static func spawn(
        _ arguments: [String], group: pid_t, executable: String = "/proc/self/exe",
        through wrapper: [String] = [
            "locktop"
        ]
    ) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, group)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor: Int32 in 0...2 {
            posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_RDWR, 0)
        }
        var cArguments = (wrapper + arguments).map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        posix_spawn(&pid, executable, &actions, &attributes, &cArguments, environ)
        return pid
    }

    /// Ends every worker, including replacements that workers started.
    static func stopWorkers(group: pid_t) {
        guard group > 0 else { return }
        kill(-group, SIGTERM)
        // An `unshare --fork` ignores SIGTERM while it waits: SIGKILL ends it, and its worker with it.
        kill(-group, SIGKILL)
        var status: Int32 = 0
        while waitpid(-1, &status, WNOHANG) > 0 {}
    }

    // MARK: One worker

    var store: FileSystemRecordStore { FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory)) }

    /// Odd workers behave like Prefect 3.1+: UUID holders and waiting by polling every 0.1 s.
    var isPrefectStyle: Bool { index % 2 == 1 }

    func run() {
        var generator = SystemRandomNumberGenerator()
        while kill(parent, 0) == 0 {
            let key = Self.keys.randomElement(using: &generator)!
            let roll = Double.random(in: 0..<1, using: &generator)
            let holder = isPrefectStyle ? UUID().uuidString.lowercased() : FileSystemRecordStore.defaultHolder()
            do {
                if roll < 0.03 {
                    try dieHoldingLock(key: key)
                } else if roll < 0.09 {
                    _ = try store.acquireLock(
                        key: key, holder: holder, acquireTimeout: 2,
                        holdTimeout: Double.random(in: 3...8, using: &generator))
                } else if roll < 0.13 {
                    try writeLikePrefect(key: key, holder: holder)
                } else {
                    try work(key: key, holder: holder, using: &generator)
                }
            } catch {
                usleep(200_000)
            }
            usleep(UInt32.random(in: 100_000...600_000, using: &generator))
        }
    }

    private func work(key: String, holder: String, using generator: inout SystemRandomNumberGenerator) throws {
        let hold = Bool.random(using: &generator) ? Double.random(in: 8...25, using: &generator) : nil
        guard try acquire(key: key, holder: holder, hold: hold) else { return }
        usleep(UInt32.random(in: 300_000...2_500_000, using: &generator))
        let result =
            isPrefectStyle
            ? #"{"metadata":{"storage_key":"/results/\#(key)","expiration":null,"serializer":{"type":"pickle"},"prefect_version":"3.9.1"},"result":"gAR9lC4="}"#
            : #"{"type":"reference","serializer_type":"pickle","storage_key":"\#(key)-\#(getpid())"}"#
        try store.write(key: key, result: Data(result.utf8), holder: holder)
        try store.releaseLock(key: key, holder: holder)
    }

    /// Prefect-style waiters open the lock file about ten times a second, which shows as poll pressure.
    private func acquire(key: String, holder: String, hold: Double?) throws -> Bool {
        if isPrefectStyle {
            var waited = 0.0
            while store.isLocked(key: key) {
                if waited > 4 { return false }
                usleep(100_000)
                waited += 0.1
            }
        }
        return try store.acquireLock(key: key, holder: holder, acquireTimeout: 4, holdTimeout: hold)
    }

    /// Creates the lock file empty and fills it a second later, as Prefect's touch-then-write does.
    private func writeLikePrefect(key: String, holder: String) throws {
        let path = try store.lockPath(forKey: key)
        guard try FileSystem.createExclusive(path, bytes: []) != nil else { return }
        usleep(1_200_000)
        try LockFiles.replace(
            path: path, bytes: LockFileContent(holder: holder, expiration: Date().addingTimeInterval(10)).encoded())
        usleep(1_000_000)
        try store.releaseLock(key: key, holder: holder)
    }

    /// Takes a lock with a Prefect-style UUID holder and exits without releasing it, as a crashed
    /// transaction does; a replacement worker starts.
    private func dieHoldingLock(key: String) throws {
        guard try store.acquireLock(key: key, holder: UUID().uuidString.lowercased(), acquireTimeout: 1) else { return }
        Self.spawnWorker(directory: directory, index: index, parent: parent, group: getpgrp())
        _exit(0)
    }
}
