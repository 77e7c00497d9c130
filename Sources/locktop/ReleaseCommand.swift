import ArgumentParser
import Foundation
import LockMonitor
import LockReports
import RecordStore
import RedisMonitor

struct ReleaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Release one lock by its record key.",
        discussion: """
            KEY is the record key, mapped through the .lock suffix rule (task.b releases task.lock), or the \
            lock file's name as ls shows it (task.lock). Without --force, it releases the lock only when \
            --holder holds it, or breaks it when its verdict is expired, stale or suspect, which it says first. \
            A lock whose holder is alive, or that cannot be read, needs --force. With --if-holder H, it \
            acts only while the lock still names H, as list showed it: a lock taken again since is left alone. It judges with what a watching \
            locktop published (identities.json), as list and the dashboard do. Every break is taken aside, checked against what was judged, and appended to the audit log.

            Exit status: 0 released; \(refusedStatus) refused (a live lock without --force, or --holder is not \
            the holder, or the lock no longer names the --if-holder holder; the lock is untouched); \(notFoundStatus) no such lock; 1 any other error; 64 bad usage.
            """)

    /// The exit status when a live lock is refused without `--force`.
    static let refusedStatus: Int32 = 3
    /// The exit status when there is no lock for the key.
    static let notFoundStatus: Int32 = 4

    @OptionGroup var directories: DirectoryOptions
    @OptionGroup var judgement: JudgementOptions

    @Argument(help: "The record key.")
    var key: String

    @Option(help: "Release this holder's own lock.")
    var holder: String?

    @Option(
        name: .customLong("if-holder"),
        help: ArgumentHelp(
            "Act only while the lock names this holder, as list showed it: a lock taken again meanwhile is left alone.",
            valueName: "holder"))
    var shownHolder: String?

    @Flag(help: "Break the lock whatever its state, even when live.")
    var force = false

    @Flag(help: "Say what would be released or broken, and do nothing.")
    var dryRun = false

    func run() throws {
        let breaker = LockBreaker(auditLog: AuditLog.defaultLocation())
        // A release names one lock: that is the confirmation a suspect needs.
        let authority: BreakAuthority = force ? .forced : .confirmed
        let release: () throws -> LockOperationOutcome
        if let redis = directories.redisURL {
            // A compare-and-delete of the token judged.
            let lockOperator = RedisLockOperator(
                reader: try directories.redisReader(url: redis),
                judge: RedisLockJudge(classifier: judgement.classifier),
                environment: try judgement.environment(waitingForAPI: 2, directories),
                breaker: breaker)
            release = {
                try lockOperator.release(
                    key: key, holder: holder, shownHolder: shownHolder, authority: authority, dryRun: dryRun)
            }
        } else {
            let (_, locks) = try directories.openDirectories()
            let lockOperator = LockOperator(
                locks: locks, locksDirectory: directories.resolvedLocksDirectory, classifier: judgement.classifier,
                environment: try judgement.environment(waitingForAPI: 2, directories), breaker: breaker,
                evidence: PublishedEvidence(IdentityFile(besides: breaker.auditLog), locksDirectory: locks),
                allowsUntrustedParent: directories.allowUntrustedParent)
            release = {
                try lockOperator.release(
                    key: key, holder: holder, shownHolder: shownHolder, authority: authority, dryRun: dryRun)
            }
        }
        let outcome: LockOperationOutcome
        do {
            outcome = try release()
        } catch LockOperationError.refused(let key, let verdict, let found) where holder != nil {
            // --holder named someone else: say whom the lock names.
            let error = LockOperationError.heldByAnother(key: key, given: holder!, found: found, verdict: verdict)
            Console.warn("error: \(error)")
            throw ExitCode(Self.refusedStatus)
        } catch {
            Console.warn("error: \(error)")
            throw ExitCode(Self.status(for: error))
        }
        Console.write(Reports.outcomeText(outcome) + "\n")
    }

    /// The exit status that tells a refusal and a missing lock from other failures.
    static func status(for error: any Error) -> Int32 {
        switch error {
        case LockOperationError.refused, LockOperationError.holderChanged, RecordStoreError.notLockHolder:
            return refusedStatus
        case LockOperationError.noLock, RecordStoreError.noLock: return notFoundStatus
        default: return ExitCode.failure.rawValue
        }
    }
}
