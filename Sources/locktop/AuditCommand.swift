import ArgumentParser
import Foundation
import LockMonitor
import LockReports
import RecordStore

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show who broke which lock, from the audit log.",
        discussion: """
            Reads $XDG_STATE_HOME/locktop/audit.log (default ~/.local/state/locktop/audit.log), where every \
            break by this user's locktop is logged once the lock is verified and before it is removed. \
            A break that was undone (the lock changed and was put back) is never logged. Newest last.
            """)

    @Flag(help: "Write one JSON object: {\"audit_log\": ..., \"entries\": [...]}.")
    var json = false

    @Option(help: ArgumentHelp("Only breaks in the last DURATION: 90s, 15m, 2h, 7d.", valueName: "duration"))
    var since: String?

    @Option(help: ArgumentHelp("Only breaks of this key's lock (task.b matches task.lock).", valueName: "key"))
    var key: String?

    func validate() throws {
        if let since, DurationText.parse(since) == nil {
            throw ValidationError("--since takes a duration such as 90s, 15m or 2h, not \"\(since)\"")
        }
    }

    func run() throws {
        let log = AuditLog.defaultLocation()
        let earliest = since.flatMap(DurationText.parse).map { Date().addingTimeInterval(-$0) }
        let stem = key.map { RecordKey.lockStem(ofFileName: RecordKey.lockFileName(forKey: $0)) ?? $0 }
        let entries = try Console.failing { try log.entries().entries }.filter { entry in
            (earliest.map { entry.time >= $0 } ?? true) && (key.map { entry.key == $0 || entry.key == stem } ?? true)
        }
        if json {
            var output = [UInt8]()
            JSONValue.encodeObject(
                [
                    ("schema", .number(Double(Reports.schemaVersion))),
                    ("audit_log", .string(log.path)),
                    ("entries", .array(entries.map { JSONValue.parse($0.encoded()) ?? .null })),
                ], into: &output)
            Console.write(bytes: output + [0x0A])
            return
        }
        guard !entries.isEmpty else {
            Console.write(
                "no breaks\(key.map { " of \"\($0)\"" } ?? "")\(since.map { " in the last \($0)" } ?? "") in \(log.path)\n"
            )
            return
        }
        let rows =
            [["TIME", "KEY", "BROKEN BY", "OLD HOLDER", "REASON", "LOCK FILE"]]
            + entries.map {
                [Reports.isoTime($0.time), $0.key, $0.brokenBy, $0.oldHolder ?? "-", $0.reason, $0.lockFile]
            }
        Console.write(TextTable(rows).lines().joined(separator: "\n") + "\n")
        let signals = entries.filter { !$0.isBreak }.count
        let counts =
            [ListTable.count(entries.count - signals, "break"), signals > 0 ? ListTable.count(signals, "signal") : nil]
        Console.write("\(counts.compactMap { $0 }.joined(separator: ", ")) in \(log.path)\n")
    }
}
