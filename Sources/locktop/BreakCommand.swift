import ArgumentParser
import Foundation
import LockMonitor
import LockReports
import RecordStore
import RedisMonitor

struct BreakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "break",
        abstract: "Break every expired and/or stale lock (and, when asked, every suspect one).",
        discussion: """
            With none of --expired, --stale and --suspect, breaks expired and stale locks: those past their \
            own expiration, and those whose holder is proven dead. A suspect lock (held past --stale-after by \
            a holder nobody can judge) goes only with --suspect, or --older-than D for those held longer than \
            D. Never touches held, writing or unreadable locks, nor any lock whose holder is alive (use \
            `locktop release KEY --force` for those). Each lock is judged with what a watching locktop \
            published (identities.json), taken aside, checked and only then removed; a lock that changed \
            meanwhile is put back and reported. Every break goes to the audit log.
            """)

    @OptionGroup var directories: DirectoryOptions
    @OptionGroup var judgement: JudgementOptions

    @Flag(help: "Break expired locks.")
    var expired = false

    @Flag(help: "Break stale locks: their holder is proven dead.")
    var stale = false

    @Flag(help: "Break suspect locks too: held past --stale-after, and nothing shows their holder dead.")
    var suspect = false

    @Option(
        help: ArgumentHelp(
            "Break suspect and unjudged locks held longer than this (never a live holder's): 2h, 1d.",
            valueName: "duration"))
    var olderThan: String?

    @Flag(help: "Only print what would be broken.")
    var dryRun = false

    @Flag(help: "Write one JSON object: {\"broken\": [...], \"errors\": [...]}.")
    var json = false

    func validate() throws {
        if let olderThan, DurationText.parse(olderThan) == nil {
            throw ValidationError("--older-than takes a duration such as 2h or 1d, not \"\(olderThan)\"")
        }
    }

    /// The states broken, and the classifier that judges: `--older-than D` is a suspect age of D.
    private var selection: (states: Set<LockState>, classifier: LockClassifier) {
        var classifier = judgement.classifier
        if let age = olderThan.flatMap(DurationText.parse) { classifier.staleAfter = age }
        var states: Set<LockState> = []
        if expired { states.insert(.expired) }
        if stale { states.insert(.stale) }
        if suspect || olderThan != nil { states.insert(.suspect) }
        return (states.isEmpty ? [.expired, .stale] : states, classifier)
    }

    func run() throws {
        let (states, classifier) = selection
        let (outcomes, errors) =
            try directories.redisURL.map { try breakRedis($0, states: states, classifier: classifier) }
            ?? breakFiles(states: states, classifier: classifier)
        if json {
            var output = [UInt8]()
            JSONValue.encodeObject(
                [
                    ("schema", .number(Double(Reports.schemaVersion))),
                    ("dry_run", .bool(dryRun)),
                    (
                        "broken",
                        .array(
                            outcomes.map {
                                .object(
                                    Dictionary(uniqueKeysWithValues: Reports.outcomeJSON($0).map { ($0.key, $0.value) })
                                )
                            })
                    ),
                    ("errors", .array(errors.map(JSONValue.string))),
                    ("audit_log", .string(AuditLog.defaultLocation().path)),
                ], into: &output)
            Console.write(bytes: output + [0x0A])
        } else {
            for outcome in outcomes { Console.write(Reports.outcomeText(outcome) + "\n") }
            if outcomes.isEmpty {
                Console.write("nothing to break (\(states.map(\.rawValue).sorted().joined(separator: ", ")))\n")
            }
            for error in errors { Console.warn("error: \(error)") }
        }
        if !errors.isEmpty { throw ExitCode.failure }
    }

    /// Asking for suspects by name (or age) is the confirmation they need; proof alone breaks the rest.
    private func authority(_ states: Set<LockState>) -> BreakAuthority {
        states.contains(.suspect) ? .confirmed : .unattended
    }

    /// Breaks the directory's locks in `states`, each judged again as it is taken aside.
    private func breakFiles(states: Set<LockState>, classifier: LockClassifier) throws -> (
        [LockOperationOutcome], [String]
    ) {
        let snapshot = try directories.scan()
        let auditLog = AuditLog.defaultLocation()
        let lockOperator = LockOperator(
            locks: snapshot.locksHandle, locksDirectory: directories.resolvedLocksDirectory, classifier: classifier,
            environment: try judgement.environment(waitingForAPI: 2, directories),
            breaker: LockBreaker(auditLog: auditLog),
            evidence: PublishedEvidence(IdentityFile(besides: auditLog), locksDirectory: snapshot.locksHandle),
            allowsUntrustedParent: directories.allowUntrustedParent)
        var outcomes: [LockOperationOutcome] = []
        var errors: [String] = []
        for name in snapshot.locks.keys.sorted() {
            let lock = snapshot.locks[name]!
            let verdict = lockOperator.verdict(of: lock)
            guard states.contains(verdict.state) else { continue }
            do {
                outcomes.append(
                    try lockOperator.breakLock(
                        named: name, authority: authority(states), dryRun: dryRun,
                        shown: (lock.bytes, verdict.state)))
            } catch {
                errors.append("\(lock.key): \(error)")
            }
        }
        return (outcomes, errors)
    }

    /// Breaks the Redis database's locks in `states`, each only while it holds the token judged.
    private func breakRedis(_ url: String, states: Set<LockState>, classifier: LockClassifier) throws -> (
        [LockOperationOutcome], [String]
    ) {
        let environment = try judgement.environment(waitingForAPI: 2, directories)
        let lockOperator = RedisLockOperator(
            reader: try directories.redisReader(url: url), judge: RedisLockJudge(classifier: classifier),
            environment: environment, breaker: LockBreaker(auditLog: AuditLog.defaultLocation()))
        var outcomes: [LockOperationOutcome] = []
        var errors: [String] = []
        for lock in try Console.failing({ try lockOperator.reader.locks(now: environment.now()) }) {
            let classification = lockOperator.judge.classify(lock, now: environment.now(), environment: environment)
            guard states.contains(classification.state) else { continue }
            do {
                outcomes.append(
                    try lockOperator.breakLock(
                        lock, classification: classification, authority: authority(states), dryRun: dryRun))
            } catch {
                errors.append("\(lock.lock.key): \(error)")
            }
        }
        return (outcomes, errors)
    }
}
