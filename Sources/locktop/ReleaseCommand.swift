import ArgumentParser
import Foundation
import LockMonitor
import RecordStore

struct ReleaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Release one lock by its record key.",
        discussion: """
            KEY is the record key, mapped through the .lock suffix rule (task.b releases task.lock). \
            Without --force, it releases the lock only when --holder holds it, or when the lock is expired \
            or stale, which it says first. A live lock is refused: the file is untouched and the exit status is 1. \
            --force breaks any lock. Every break is taken aside, checked against what was judged, and \
            appended to the audit log.
            """)

    @OptionGroup var directories: DirectoryOptions
    @OptionGroup var judgement: JudgementOptions

    @Argument(help: "The record key.")
    var key: String

    @Option(help: "Release this holder's own lock.")
    var holder: String?

    @Flag(help: "Break the lock whatever its state, even when live.")
    var force = false

    func run() throws {
        try directories.requireDirectories()
        let lockOperator = LockOperator(locksDirectory: directories.resolvedLocksDirectory, classifier: judgement.classifier,
                                        environment: .live, breaker: LockBreaker(auditLog: AuditLog.defaultLocation()))
        let outcome = try Console.failing { try lockOperator.release(key: key, holder: holder, force: force) }
        Console.write(Reports.outcomeText(outcome) + "\n")
    }
}
