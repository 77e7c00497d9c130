import ArgumentParser
import Foundation
import LockMonitor
import LockReports
import RecordStore
import RedisMonitor

#if canImport(Glibc)
    import Glibc
#endif

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List every lock with its state, and every record.",
        discussion: """
            The human table shows each lock's key, state, holder (host/pid when it has that form), expiry \
            countdown, age, the records that map to it and why it is in its state, then the records without \
            a lock, one per line. On a terminal it fits the width and colours the states (not with NO_COLOR). \
            --json writes one object with "records" and "locks" arrays.

            With --check, the exit status is 1 when any lock is expired, stale, suspect, unreadable or blocked \
            (waiters stuck for --blocked-after behind a holder not known to be alive), with a one-line summary \
            on standard error: a monitoring probe. Each lock is judged with what a watching locktop published \
            (identities.json beside the audit log), so list gives the verdict the dashboard gives.
            """)

    @OptionGroup var directories: DirectoryOptions
    @OptionGroup var judgement: JudgementOptions

    @Flag(help: "Write one JSON object instead of a table.")
    var json = false

    @Flag(help: "With --json, read each record and add a summary of its JSON (slower on large directories).")
    var summaries = false

    @Flag(
        help:
            "Print who blocks whom instead: each lock with waiters, its holder, its waiters and the locks they hold, as a tree (with --json, as JSON). Waiters are what a watching locktop, as root, published."
    )
    var blocking = false

    @Option(
        name: [.customShort("o"), .customLong("output")],
        help: ArgumentHelp(
            "The table's columns, as lslocks takes them: key,state,holder,expires,held,records,reason.",
            valueName: "columns"),
        transform: { list in try ListTable.Column.parse(list) })
    var output: [ListTable.Column]?

    @Flag(name: [.customShort("n"), .customLong("noheadings")], help: "Print the table without its heading line.")
    var noHeadings = false

    @Flag(help: "Count the records without a lock instead of listing them.")
    var locksOnly = false

    @Flag(
        help:
            "Exit 1 when any lock is expired, stale, suspect, unreadable or blocked, with a summary on standard error.")
    var check = false

    func validate() throws {
        if summaries && !json { throw ValidationError("--summaries goes with --json") }
        if blocking && (output != nil || noHeadings || locksOnly || summaries) {
            throw ValidationError(
                "--blocking prints the blocking tree: -o, -n, --locks-only and --summaries shape the list")
        }
        if json && (output != nil || noHeadings || locksOnly) {
            throw ValidationError("-o, -n and --locks-only shape the table, not --json")
        }
    }

    func run() throws {
        let environment = try judgement.environment(waitingForAPI: 2, directories)
        // After the list: an API or report store that did not answer, agents gone silent.
        defer {
            for warning in environment.evidenceWarnings { Console.warn("warning: \(TerminalText.escaped(warning))") }
        }
        if let redis = directories.redisURL { return try listRedis(redis, environment: environment) }
        if !directories.allowUntrustedParent,
            let reason = DirectoryTrust.untrustedReason(directories.resolvedLocksDirectory)
        {
            Console.warn("warning: \(reason); break and release refuse to act here without --allow-untrusted-parent")
        }
        let auditLog = AuditLog.defaultLocation()
        if blocking { return try printBlocking(auditLog: auditLog, environment: environment) }
        if json {
            let (records, locks) = try directories.openDirectories()
            let document = ListDocument(
                records: records, locks: locks, classifier: judgement.classifier, environment: environment,
                auditLog: auditLog)
            let (verdicts, deadlocks) = try Console.failing {
                try document.write(includeSummaries: summaries, to: Console.write(bytes:))
            }
            if check { try probe(verdicts, deadlocks: deadlocks) }
            return
        }
        let snapshot = try directories.scan()
        let judged = PublishedJudgement(
            classifier: judgement.classifier, environment: environment,
            auditLog: auditLog,
            locksDirectory: snapshot.locksHandle)
        // The table escapes every cell itself, so the states' colours are the only escape sequences.
        Console.write(
            bytes: Array(
                table().render(snapshot, classify: judged.classify, auditLog: auditLog.path, now: judged.now).utf8))
        if check {
            try probe(
                snapshot.locks.values.map(judged.classify), deadlocks: judged.deadlocks(among: snapshot.locks.values))
        }
    }

    /// `--blocking`: the blocking tree of the directory's locks, from what a watching locktop published.
    private func printBlocking(auditLog: AuditLog, environment: MonitorEnvironment) throws {
        let snapshot = try directories.scan()
        let judged = PublishedJudgement(
            classifier: judgement.classifier, environment: environment,
            auditLog: auditLog,
            locksDirectory: snapshot.locksHandle)
        let tree = WaitForGraph(snapshot.locks.values, identify: judged.identify, classify: judged.classify)
            .blockingTree(at: judged.now)
        if json {
            Console.write(bytes: BlockingReport.json(tree, now: judged.now))
        } else {
            Console.write(bytes: Array(BlockingReport.lines(tree, now: judged.now).map { $0 + "\n" }.joined().utf8))
        }
        if check {
            try probe(
                snapshot.locks.values.map(judged.classify), deadlocks: judged.deadlocks(among: snapshot.locks.values))
        }
    }

    /// The table as the options shape it, fitted and coloured on a terminal.
    private func table() -> ListTable {
        var table = ListTable()
        if let output { table.columns = output }
        table.showsHeadings = !noHeadings
        table.locksOnly = locksOnly
        table.rowsOnly = output != nil || noHeadings
        if isatty(STDOUT_FILENO) == 1 {
            table.width = Console.terminalWidth
            if (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty { table.paint = Console.paint }
        }
        return table
    }

    /// `list --redis`: the prefect-redis locks of a Redis database, judged as a directory's are.
    private func listRedis(_ url: String, environment: MonitorEnvironment) throws {
        if blocking { throw ValidationError("--blocking needs a directory: nothing shows who waits for a Redis lock") }
        if summaries { throw ValidationError("--summaries reads record files; a Redis database has none") }
        let reader = try directories.redisReader(url: url)
        let (judged, now) = try Console.failing {
            try RedisReports.judgedLocks(
                reader, classifier: judgement.classifier, environment: environment)
        }
        let auditLog = AuditLog.defaultLocation().path
        if json {
            Console.write(
                bytes: RedisReports.listJSON(
                    judged, server: reader.url, prefix: reader.store.prefix, auditLog: auditLog, now: now))
        } else {
            let classifications = Dictionary(
                uniqueKeysWithValues: judged.map { ($0.lock.entry.name, $0.classification) })
            var table = table()
            // A Redis lock guards one key, and the database holds no records.
            if output == nil { table.columns.removeAll { $0 == .records } }
            var lines = table.lockLines(
                judged.map(\.lock.entry), classify: { classifications[$0.name]! }, now: now, records: { _ in "-" })
            if !table.rowsOnly {
                lines.append("")
                lines.append(
                    ListTable.count(judged.count, "lock")
                        + " under \(TerminalText.escaped(reader.store.prefix))* in \(reader.url)")
                lines.append("audit log: \(TerminalText.escaped(auditLog))")
            }
            Console.write(bytes: Array(lines.map { $0 + "\n" }.joined().utf8))
        }
        if check { try probe(judged.map(\.classification)) }
    }

    /// `--check`: a summary on standard error, and exit 1 when a lock needs someone.
    private func probe(_ verdicts: [LockClassification], deadlocks: [WaitForGraph.Deadlock] = []) throws {
        var counts: [String: Int] = [:]
        for deadlock in deadlocks {
            counts[deadlock.isCertain ? "deadlock" : "possible deadlock", default: 0] += 1
            Console.warn(
                "check: \(deadlock.isCertain ? "deadlock" : "possible deadlock"): \(TerminalText.escaped(deadlock.summary))"
            )
        }
        for verdict in verdicts {
            if verdict.state.needsAttention { counts[verdict.state.rawValue, default: 0] += 1 }
            if verdict.isBlocking { counts["blocked", default: 0] += 1 }
        }
        let locks = ListTable.count(verdicts.count, "lock")
        guard !counts.isEmpty else {
            Console.warn("check: ok, \(locks)")
            return
        }
        let names =
            ["deadlock", "possible deadlock"] + LockState.allCases.filter(\.needsAttention).map(\.rawValue) + [
                "blocked"
            ]
        let problems = names.compactMap { name in counts[name].map { "\($0) \(name)" } }
        Console.warn("check: \(problems.joined(separator: ", ")) of \(locks)")
        throw ExitCode.failure
    }
}
