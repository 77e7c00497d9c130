import ArgumentParser
import Foundation
import LockMonitor
import RecordStore

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List every lock with its state, and every record.",
        discussion: "The human table shows each lock's key, state, holder (host/pid when it has that form), expiry countdown, age and the records that map to it. --json writes one object with \"records\" and \"locks\" arrays.")

    @OptionGroup var directories: DirectoryOptions
    @OptionGroup var judgement: JudgementOptions

    @Flag(help: "Write one JSON object instead of a table.")
    var json = false

    @Flag(help: "With --json, read each record and add a summary of its JSON (slower on large directories).")
    var summaries = false

    func validate() throws {
        if summaries && !json { throw ValidationError("--summaries goes with --json") }
    }

    func run() throws {
        // JSON streams the records from the listing; the table needs them indexed.
        let (snapshot, listing) = json ? try directories.scanLocks() : (try directories.scan(), nil)
        let classifier = judgement.classifier
        let environment = MonitorEnvironment.live
        let now = environment.now()
        let auditLog = AuditLog.defaultLocation()
        // What a watching locktop learned with fanotify: who created each lock file, who waits on it.
        let learned = IdentityFile(besides: auditLog).load()
        let record = { (lock: LockEntry) in learned[IdentityFile.Key(lock.status)] }
        let classify = { (lock: LockEntry) in classifier.classify(lock, now: now, environment: environment, creator: record(lock)?.creator) }
        let identify = { (lock: LockEntry) -> LockIdentity in
            let waiters = (record(lock)?.waiters ?? []).filter { now.timeIntervalSince($0.lastSeen) < IdentityLedger.waiterTimeout + 1 }
            return LockIdentity(of: lock, creator: record(lock)?.creator, waiters: waiters, hostName: environment.hostName)
        }
        if let listing {
            Reports.writeListJSON(snapshot: snapshot, records: listing, classify: classify, identify: identify, auditLog: auditLog.path,
                                  includeSummaries: summaries, now: now, to: Console.write(bytes:))
        } else {
            Console.write(Reports.listTable(snapshot: snapshot, classify: classify, auditLog: auditLog.path, watch: nil, now: now))
        }
    }
}
