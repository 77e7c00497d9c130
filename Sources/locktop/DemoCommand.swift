import ArgumentParser
import Dashboard
import DashboardSources
import Foundation
import LockJournal
import LockMonitor
import RecordStore
import RedisMonitor
import RedisStore

#if canImport(Glibc)
    import Glibc
#endif

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Open the dashboard on a simulated Prefect workload in a temporary directory.",
        discussion: """
            Creates a temporary records directory and starts worker processes that take and release locks \
            through RecordStore with real contention, write records, let some locks expire, poll like Prefect's \
            waiters, write like Prefect (empty first), and sometimes die holding a lock. Every state shows within \
            seconds. Two workers deadlock on accounts and transfers every 46 s (seen as root, where fanotify names \
            both sides). The dashboard records into a journal; on exit everything else is removed, and the journal \
            is kept for `locktop report` and `locktop replay`.

            With --redis, the same on prefect-redis locks: a private redis-server (which must be installed) on a \
            local port, with keyspace notifications, seeded with a dead holder, a left-behind wait_for_lock probe \
            and a crashed transaction's lock; it stops with the demo.
            """)

    @OptionGroup var display: DisplayOptions

    @Option(help: "How many worker processes to run.")
    var workers = 4

    @Option(
        help: ArgumentHelp(
            """
            Also run workers as this many other hosts (0 to 4): Prefect helpers whose locks name their host \
            and a heartbeat, one of them a seeded orphan that shows stale from its expired heartbeat.
            """, valueName: "count"))
    var hosts = 0

    @Flag(
        help:
            "Run the workload on prefect-redis locks in a private redis-server (which must be installed) instead of a directory."
    )
    var redis = false

    func validate() throws {
        guard (1...32).contains(workers) else { throw ValidationError("--workers takes 1 to 32") }
        guard (0...4).contains(hosts) else { throw ValidationError("--hosts takes 0 to 4") }
        guard hosts == 0 || !redis else { throw ValidationError("--hosts runs on a directory, not with --redis") }
    }

    func run() throws {
        try display.requireTerminal()
        let directory = try Console.failing { try DemoWorkload.makeDirectory() }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Console.failing { try DemoWorkload.seed(directory) }
        // Workers that die holding a lock are reaped by the kernel, so none lingers as <defunct> (a
        // zombie still answers kill(2) and /proc, which would make its lock look alive).
        signal(SIGCHLD, SIG_IGN)
        if redis { return try runRedis(in: directory) }
        let group = DemoWorkload.startWorkers(count: workers, directory: directory)
        for number in 0..<hosts { DemoWorkload.spawnOtherHost(number + 1, directory: directory, group: group) }
        DemoDeadlock.start(directory: directory, group: group)
        defer { DemoWorkload.stopWorkers(group: group) }
        // The demo's breaks are not the operator's: they go to a log inside the demo directory, which a scan ignores.
        let state = "\(directory)/\(LockFiles.privatePrefix)state"
        let auditLog = AuditLog(path: "\(state)/audit.log")
        let monitor = try Console.failing {
            try LockMonitor(
                configuration: .init(
                    recordsDirectory: directory, classifier: LockClassifier(staleAfter: 60), auditLog: auditLog))
        }
        let status = try runRecording(
            DirectoryDashboardSource(monitor: monitor, breaker: LockBreaker(auditLog: auditLog)), state: state,
            greeting: "demo: breaks are logged to \(auditLog.path); the journal records into \(state)/journal.db")
        if status != 0 { throw ExitCode(status) }
    }

    /// Runs the dashboard over `source`, recording into the demo's journal in `state`; the journal is
    /// kept when the demo ends (its directory is not), and `report` and `replay` are named for it.
    private func runRecording(_ source: DashboardSource, state: String, greeting: String) throws -> Int32 {
        let journalPath = "\(state)/journal.db"
        let status = try Console.failing { () throws -> Int32 in
            try StateDirectory.prepare(state)
            let recorder = JournalRecorder(
                journal: try Journal(recordingAt: journalPath), source: source.lockSource.location)
            return display.runDashboard(source, greeting: greeting, recorder: recorder)
        }
        let kept = NSTemporaryDirectory() + "locktop-demo-\(getpid()).db"
        if rename(journalPath, kept) == 0 {
            Console.warn("the demo's journal is kept: locktop report \(kept); locktop replay \(kept)")
        }
        return status
    }

    /// The same workload on prefect-redis locks: a private redis-server, workers, the dashboard.
    private func runRedis(in directory: String) throws {
        let (server, url) = try Console.failing { try RedisDemoWorkload.startServer(in: directory) }
        // The server's group is ended and its watchdog dismissed, so the watchdog never fires at a number reused since.
        defer { server.endGroup(killAfter: 5) }
        try Console.failing { try RedisDemoWorkload.seed(url) }
        let group = RedisDemoWorkload.startWorkers(count: workers, url: url)
        defer { DemoWorkload.stopWorkers(group: group) }
        let state = "\(directory)/\(LockFiles.privatePrefix)state"
        let auditLog = AuditLog(path: "\(state)/audit.log")
        let monitor = try Console.failing {
            try RedisLockMonitor(
                configuration: .init(
                    url: RedisURL(url), classifier: LockClassifier(staleAfter: 60), auditLog: auditLog),
                firstSeen: FirstSeenLedger(besides: auditLog))
        }
        let status = try runRecording(
            RedisDashboardSource(monitor: monitor, breaker: LockBreaker(auditLog: auditLog)), state: state,
            greeting: "demo: a private redis-server at \(url); breaks are logged to \(auditLog.path)")
        if status != 0 { throw ExitCode(status) }
    }
}

struct DemoWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-worker", abstract: "One worker of `locktop demo`.",
        shouldDisplay: false)

    @Argument(help: "A name, for ps.") var name: String
    @Option var dir: String?
    @Option var redis: String?
    @Option var index: Int
    @Option var parent: Int32
    @Flag var deadlock = false
    @Option var host: String?
    @Flag var orphan = false
    @Flag var namespaced = false
    @Option var lifeline: Int32?

    func run() throws {
        if let host, let dir {
            // In its own UTS namespace, the worker's host is a host of its own.
            if namespaced { _ = sethostname(host, host.utf8.count) }
            DemoOtherHost(
                directory: dir, host: host, index: index, parent: namespaced ? nil : parent, lifeline: lifeline,
                isOrphan: orphan
            ).run()
        } else if deadlock, let dir {
            DemoDeadlock(directory: dir, side: index, parent: parent).run()
        } else if let redis {
            RedisDemoWorkload(url: redis, index: index, parent: parent).run()
        } else if let dir {
            DemoWorkload(directory: dir, index: index, parent: parent).run()
        }
    }
}
