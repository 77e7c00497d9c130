import ArgumentParser
import Foundation
import LockMonitor
import RecordStore
import RedisMonitor

struct BreakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "break",
        abstract: "Break every expired and/or stale lock.",
        discussion: """
            With neither --expired nor --stale, breaks both. Never touches held, writing or unreadable locks \
            (use `locktop release KEY --force` for those). Each lock is judged, taken aside, checked and only \
            then removed; a lock that changed meanwhile is put back and reported. Every break goes to the audit log.
            """)

    @OptionGroup var directories: DirectoryOptions
    @OptionGroup var judgement: JudgementOptions

    @Flag(help: "Break expired locks.")
    var expired = false

    @Flag(help: "Break stale locks.")
    var stale = false

    @Flag(help: "Only print what would be broken.")
    var dryRun = false

    @Flag(help: "Write one JSON object: {\"broken\": [...], \"errors\": [...]}.")
    var json = false

    func run() throws {
        let states: Set<LockState> = expired || stale
            ? Set([expired ? LockState.expired : nil, stale ? LockState.stale : nil].compactMap { $0 })
            : [.expired, .stale]
        let (outcomes, errors) = try directories.redisURL.map { try breakRedis($0, states: states) } ?? breakFiles(states: states)
        if json {
            var output = [UInt8]()
            JSONValue.encodeObject([
                ("schema", .number(Double(Reports.schemaVersion))),
                ("dry_run", .bool(dryRun)),
                ("broken", .array(outcomes.map { .object(Dictionary(uniqueKeysWithValues: Reports.outcomeJSON($0).map { ($0.key, $0.value) })) })),
                ("errors", .array(errors.map(JSONValue.string))),
                ("audit_log", .string(AuditLog.defaultLocation().path)),
            ], into: &output)
            Console.write(bytes: output + [0x0A])
        } else {
            for outcome in outcomes { Console.write(Reports.outcomeText(outcome) + "\n") }
            if outcomes.isEmpty { Console.write("nothing to break (\(states.map(\.rawValue).sorted().joined(separator: ", ")))\n") }
            for error in errors { Console.warn("error: \(error)") }
        }
        if !errors.isEmpty { throw ExitCode.failure }
    }

    /// Breaks the directory's locks in `states`, each judged again as it is taken aside.
    private func breakFiles(states: Set<LockState>) throws -> ([LockOperationOutcome], [String]) {
        let snapshot = try directories.scan()
        let environment = MonitorEnvironment.live
        let classifier = judgement.classifier
        let lockOperator = LockOperator(locksDirectory: directories.resolvedLocksDirectory, classifier: classifier,
                                        environment: environment, breaker: LockBreaker(auditLog: AuditLog.defaultLocation()))
        var outcomes: [LockOperationOutcome] = []
        var errors: [String] = []
        for name in snapshot.locks.keys.sorted() {
            let lock = snapshot.locks[name]!
            guard states.contains(classifier.classify(lock, now: environment.now(), environment: environment).state) else { continue }
            do {
                outcomes.append(try lockOperator.breakLock(named: name, force: false, dryRun: dryRun))
            } catch {
                errors.append("\(lock.key): \(error)")
            }
        }
        return (outcomes, errors)
    }

    /// Breaks the Redis database's locks in `states`, each only while it holds the token judged.
    private func breakRedis(_ url: String, states: Set<LockState>) throws -> ([LockOperationOutcome], [String]) {
        let environment = MonitorEnvironment.live
        let lockOperator = RedisLockOperator(reader: try directories.redisReader(url: url), judge: RedisLockJudge(classifier: judgement.classifier),
                                             environment: environment, breaker: LockBreaker(auditLog: AuditLog.defaultLocation()))
        var outcomes: [LockOperationOutcome] = []
        var errors: [String] = []
        for lock in try Console.failing({ try lockOperator.reader.locks(now: environment.now()) }) {
            let classification = lockOperator.judge.classify(lock, now: environment.now(), environment: environment)
            guard states.contains(classification.state) else { continue }
            do {
                outcomes.append(try lockOperator.breakLock(lock, classification: classification, force: false, dryRun: dryRun))
            } catch {
                errors.append("\(lock.lock.key): \(error)")
            }
        }
        return (outcomes, errors)
    }
}
