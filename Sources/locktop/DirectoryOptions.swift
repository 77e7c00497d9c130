import ArgumentParser
import Dashboard
import DashboardSources
import Foundation
import LockMonitor
import PrefectAPI
import RecordStore
import RedisMonitor
import RedisStore

/// Where the locks are, for every subcommand: a records directory (and a locks directory), or a
/// Redis database of prefect-redis locks.
struct DirectoryOptions: ParsableArguments {
    @Option(
        name: .customLong("dir"),
        help: ArgumentHelp(
            "The records directory. Default: $LOCKTOP_DIR, else $PREFECT_HOME/records (Prefect 3.0), else $PREFECT_HOME/storage with the locks in $PREFECT_HOME/locks (3.1+), whichever exists (PREFECT_HOME defaults to ~/.prefect).",
            valueName: "path"))
    var dir: String?

    @Option(
        name: .customLong("locks-dir"),
        help: ArgumentHelp(
            "The directory of the .lock files, when apart from the records (Prefect 3.1+ often uses $PREFECT_HOME/locks). Default: $LOCKTOP_LOCKS_DIR, else the records directory.",
            valueName: "path"))
    var locksDir: String?

    @Option(
        name: .customLong("redis"),
        help: ArgumentHelp(
            "Read prefect-redis locks from this Redis database instead of a directory: redis://[user:password@]host[:port][/db]. Default: $LOCKTOP_REDIS_URL when no --dir is given.",
            valueName: "url"))
    var redis: String?

    @Option(help: ArgumentHelp("With --redis, the key prefix of the locks.", valueName: "prefix"))
    var prefix = "lock:"

    @Option(
        name: .customLong("tls-ca"),
        help: ArgumentHelp(
            "With a rediss:// URL, the CA certificates (PEM) the server's certificate must chain to. Default: the system's.",
            valueName: "file"))
    var tlsCA: String?

    @Option(
        help: ArgumentHelp(
            "With --redis (or --agent-reports, or the agent's --publish), read the password from this file (its first line) rather than the URL, which ps shows. $LOCKTOP_REDIS_PASSWORD does too.",
            valueName: "file"))
    var redisPasswordFile: String?

    @Option(
        help: ArgumentHelp(
            """
            Read other hosts' agent reports from this Redis database too, where their agents publish with             `locktop agent --publish URL`: redis://[user:password@]host[:port][/db]. Default: $LOCKTOP_AGENT_REPORTS.
            """, valueName: "url"))
    var agentReports: String?

    /// The Redis database of agent reports (`--agent-reports`, else `$LOCKTOP_AGENT_REPORTS`), if any.
    var agentReportsURL: String? { agentReports ?? Self.environment("LOCKTOP_AGENT_REPORTS") }

    @Flag(
        help: ArgumentHelp(
            "Break and release even where another uid may rename or replace the locks directory or a parent of it."))
    var allowUntrustedParent = false

    /// Connects to the Redis database `url`.
    func redisConnection(_ url: RedisURL) throws(RedisError) -> RedisConnection {
        try RedisConnection(url: url, certificateAuthorities: tlsCA)
    }

    /// The Redis database given (`--redis`, else `$LOCKTOP_REDIS_URL` unless a directory is), nil for a directory.
    var redisURL: String? {
        redis ?? (dir == nil && locksDir == nil ? Self.environment("LOCKTOP_REDIS_URL") : nil)
    }

    /// The Redis URL `text`, with the password of `--redis-password-file` (or `$LOCKTOP_REDIS_PASSWORD`) when given.
    func parsedRedisURL(_ text: String) throws -> RedisURL {
        let url = try RedisURL(text)
        if let redisPasswordFile {
            return url.replacingPassword(
                try CommandLineSecrets.firstLine(ofFile: redisPasswordFile, option: "--redis-password-file"))
        }
        return url.replacingPassword(Self.environment("LOCKTOP_REDIS_PASSWORD"))
    }

    /// The Redis database's locks, read through one connection; a clear error when it cannot connect.
    func redisReader(url text: String) throws -> RedisLockReader {
        try Console.failing { try connectedReader(url: text) }
    }

    /// The Redis database's locks, read through one connection.
    func connectedReader(url text: String) throws -> RedisLockReader {
        let url = try parsedRedisURL(text)
        let store = RedisLockStore(connection: try redisConnection(url), prefix: prefix)
        return RedisLockReader(store: store, firstSeen: FirstSeenLedger(besides: AuditLog.defaultLocation()))
    }

    /// The locks directory: the one given (`--locks-dir`, else `$LOCKTOP_LOCKS_DIR`), else the found
    /// layout's when no records directory was given either; nil for the records directory.
    var locksDirectory: String? {
        locksDir ?? Self.environment("LOCKTOP_LOCKS_DIR") ?? (givenDirectory == nil ? Self.existingLayout?.locks : nil)
    }

    /// A non-empty environment variable.
    static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The Prefect layouts locktop knows, in the order it tries them: `$PREFECT_HOME/records`
    /// (Prefect 3.0), `$PREFECT_HOME/locks` (3.1+), `$PREFECT_HOME/storage`.
    static var knownLayouts: [String] {
        let home = environment("PREFECT_HOME") ?? (environment("HOME") ?? NSHomeDirectory()) + "/.prefect"
        let expanded = (home as NSString).expandingTildeInPath
        return ["records", "locks", "storage"].map { "\(expanded)/\($0)" }
    }

    /// The directory given (`--dir`, else `$LOCKTOP_DIR`), nil when locktop is to find one.
    var givenDirectory: String? { dir ?? Self.environment("LOCKTOP_DIR") }

    /// The known layout that exists, nil when none does: `records` alone (Prefect 3.0); else
    /// `locks`, with `storage` as its records (3.1+ keeps results there and locks apart) when that
    /// exists too; else `storage` alone.
    static var existingLayout: (records: String, locks: String?)? {
        let layouts = knownLayouts
        let (records, locks, storage) = (layouts[0], layouts[1], layouts[2])
        if FileSystem.isListableDirectory(records) { return (records, nil) }
        if FileSystem.isListableDirectory(locks) {
            return FileSystem.isListableDirectory(storage) ? (storage, locks) : (locks, nil)
        }
        return FileSystem.isListableDirectory(storage) ? (storage, nil) : nil
    }

    /// The records directory: the one given, else the known layout's that exists (else `records`).
    var recordsDirectory: String {
        givenDirectory ?? Self.existingLayout?.records ?? Self.knownLayouts[0]
    }

    var resolvedLocksDirectory: String { locksDirectory ?? recordsDirectory }

    func validate() throws {
        if let agentReportsURL {
            do {
                _ = try RedisURL(agentReportsURL)
            } catch {
                throw ValidationError("--agent-reports: \(error)")
            }
        }
        if let redis = redisURL {
            if dir != nil || locksDir != nil {
                throw ValidationError("--redis reads a Redis database: it goes without --dir and --locks-dir")
            }
            do {
                _ = try RedisURL(redis)
            } catch {
                throw ValidationError("\(error)")
            }
            if prefix.isEmpty { throw ValidationError("--prefix cannot be empty") }
            if let tlsCA, !FileManager.default.isReadableFile(atPath: tlsCA) {
                throw ValidationError("--tls-ca \(tlsCA) is not a readable file")
            }
            return
        }
        if dir?.isEmpty == true { throw ValidationError("--dir cannot be empty") }
        if locksDir?.isEmpty == true { throw ValidationError("--locks-dir cannot be empty") }
        if givenDirectory == nil, Self.existingLayout == nil {
            throw ValidationError(
                """
                no Prefect records or locks directory found; tried \(Self.knownLayouts.joined(separator: ", ")). \
                Pass --dir PATH (and --locks-dir PATH when the .lock files live apart), or set LOCKTOP_DIR.
                """)
        }
    }

    /// Reads both directories once, with a clear error when one is missing or unreadable.
    func scan() throws -> DirectorySnapshot {
        let (records, locks) = try openDirectories()
        return try Console.failing { try DirectorySnapshot.scan(records: records, locks: locks) }
    }

    /// Opens both directories once, never through a symbolic link, with a clear error when one is
    /// missing or not a directory: everything this command reads or removes goes through these handles.
    func openDirectories() throws -> (records: DirectoryHandle, locks: DirectoryHandle) {
        try Console.failing { try openHandles() }
    }

    /// Opens both directories once, never through a symbolic link.
    func openHandles() throws(RecordStoreError) -> (records: DirectoryHandle, locks: DirectoryHandle) {
        let records = try DirectoryHandle.open(recordsDirectory)
        let locks = locksDirectory == nil ? records : try DirectoryHandle.open(resolvedLocksDirectory)
        return (records, locks)
    }
}

/// How locks are judged, for the subcommands that classify.
struct JudgementOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            """
            A lock held longer than this by a holder nobody can judge is suspect (never stale: stale needs its \
            holder proven dead): 90s, 15m, 2h. Default: $LOCKTOP_STALE_AFTER, else 1h.
            """, valueName: "duration"))
    var staleAfter: String =
        DirectoryOptions.environment("LOCKTOP_STALE_AFTER") ?? DurationText.format(LockClassifier.defaultStaleAfter)

    @Option(
        help: ArgumentHelp(
            "How long an empty or garbled lock file counts as being written, in seconds.", valueName: "seconds"))
    var grace: Double = FileSystemRecordStore.defaultGracePeriod

    @Option(
        help: ArgumentHelp(
            "Waiters stuck this long behind a holder not known to be alive are blocked: 90s, 15m.",
            valueName: "duration"))
    var blockedAfter: String = DurationText.format(LockClassifier.defaultBlockedAfter)

    @Option(
        help: ArgumentHelp(
            """
            Prefect's API, asked for the state of each lock's flow run: a run that ended still holding \
            its lock is stale. Default: $PREFECT_API_URL.
            """, valueName: "url"))
    var prefectAPI: String? = DirectoryOptions.environment("PREFECT_API_URL")

    /// This host's clock, `/proc` and name, with Prefect's API when one is set, and the agents'
    /// reports in Redis when `directories` names a database for them. A watch never waits on
    /// either; a one-shot command waits up to `wait` seconds for its first answers.
    func environment(waitingForAPI wait: TimeInterval, _ directories: DirectoryOptions) throws -> MonitorEnvironment {
        var environment = MonitorEnvironment.live
        environment.flowRunStates = prefectAPI.flatMap { PrefectRunStates(url: $0, wait: wait) }
        if let reports = directories.agentReportsURL {
            environment.hostReports = RedisHostReports(
                url: try directories.parsedRedisURL(reports), certificateAuthorities: directories.tlsCA, wait: wait)
        }
        return environment
    }

    func validate() throws {
        guard let seconds = DurationText.parse(staleAfter), seconds > 0 else {
            throw ValidationError("--stale-after takes a duration such as 90s, 15m or 2h, not \"\(staleAfter)\"")
        }
        guard grace >= 0, grace.isFinite else { throw ValidationError("--grace must be zero or more seconds") }
        if let prefectAPI, PrefectRunStates(url: prefectAPI) == nil {
            throw ValidationError("--prefect-api takes an http or https URL, such as http://127.0.0.1:4200/api")
        }
        guard let blocked = DurationText.parse(blockedAfter), blocked >= 0 else {
            throw ValidationError("--blocked-after takes a duration such as 90s or 15m, not \"\(blockedAfter)\"")
        }
    }

    /// The one classifier every subcommand judges with.
    var classifier: LockClassifier {
        LockClassifier(
            staleAfter: DurationText.parse(staleAfter) ?? LockClassifier.defaultStaleAfter, gracePeriod: grace,
            blockedAfter: DurationText.parse(blockedAfter) ?? LockClassifier.defaultBlockedAfter)
    }
}

/// How a watching subcommand learns about changes.
struct WatchOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Poll every this many seconds instead of using inotify (for NFS and the like; detected automatically).",
            valueName: "seconds"))
    var poll: Double?

    @Flag(help: "Do not watch which processes open the lock files with fanotify, even as root.")
    var noFanotify = false

    @Flag(
        help:
            "With --redis, turn the server's keyspace notifications on (CONFIG SET, merged with its flags) when they are off."
    )
    var enableNotifications = false

    func validate() throws {
        if let poll, !(poll > 0 && poll.isFinite) {
            throw ValidationError("--poll must be a positive number of seconds")
        }
    }

    /// The source a watching subcommand reads: a Redis database with `--redis`, else the directories.
    func makeSource(_ directories: DirectoryOptions, _ judgement: JudgementOptions) throws -> LockSource {
        guard let redis = directories.redisURL else { return try makeMonitor(directories, judgement) }
        return try makeRedisMonitor(redis, directories, judgement)
    }

    /// The dashboard's source over the directories or the Redis database: its rows are the
    /// verdicts the dashboard and `serve` show; its breaks go to this user's audit log. With
    /// `recordRows` false, records without a lock are counted but get no rows (`serve`).
    func makeDashboardSource(_ directories: DirectoryOptions, _ judgement: JudgementOptions, recordRows: Bool = true)
        throws -> DashboardSource
    {
        let breaker = LockBreaker(auditLog: AuditLog.defaultLocation())
        if let redis = directories.redisURL {
            return RedisDashboardSource(monitor: try makeRedisMonitor(redis, directories, judgement), breaker: breaker)
        }
        return DirectoryDashboardSource(
            monitor: try makeMonitor(directories, judgement), breaker: breaker,
            recordRowLimit: recordRows ? DashboardRowBuilder.unlockedRecordLimit : 0)
    }

    /// Connects to the Redis database and reads its locks, with a clear error when it cannot.
    func makeRedisMonitor(_ url: String, _ directories: DirectoryOptions, _ judgement: JudgementOptions) throws
        -> RedisLockMonitor
    {
        let interval = poll ?? 2
        return try Console.failing {
            let auditLog = AuditLog.defaultLocation()
            return try RedisLockMonitor(
                configuration: .init(
                    url: directories.parsedRedisURL(url), prefix: directories.prefix, classifier: judgement.classifier,
                    auditLog: auditLog,
                    enablesNotifications: enableNotifications, pollInterval: interval,
                    certificateAuthorities: directories.tlsCA),
                environment: try judgement.environment(waitingForAPI: 0, directories),
                firstSeen: FirstSeenLedger(besides: auditLog))
        }
    }

    /// Starts a monitor over the directories, with a clear error when it cannot.
    /// A directory that does not exist yet is waited for.
    func makeMonitor(_ directories: DirectoryOptions, _ judgement: JudgementOptions) throws -> LockMonitor {
        try Console.failing {
            try LockMonitor(
                configuration: .init(
                    recordsDirectory: directories.recordsDirectory, locksDirectory: directories.locksDirectory,
                    classifier: judgement.classifier, forcedPollInterval: poll,
                    auditLog: AuditLog.defaultLocation(), watchesProcesses: !noFanotify,
                    allowsUntrustedParent: directories.allowUntrustedParent),
                environment: try judgement.environment(waitingForAPI: 0, directories))
        }
    }
}
