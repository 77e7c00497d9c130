import ArgumentParser
import Foundation
import LockJournal
import LockMonitor
import LockReports
import RecordStore

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract:
            "Each lock's recent figures from a journal: acquisitions per minute, hold and wait times, waiters now.",
        discussion: """
            Reads the journal that --record keeps (the dashboard's, events' or serve's), over the last 10 minutes \
            unless --since says otherwise. "Waiters now" is what the journal last recorded of the lock (0 once it was released).
            """)

    @OptionGroup var journal: JournalOptions

    @Flag(help: "One JSON document (docs/json.md).")
    var json = false

    func run() throws {
        var options = journal
        if options.since == nil { options.since = "10m" }
        let now = Date()
        let (opened, path, span) = try options.open(now: now)
        let entries =
            try span.map { span in
                try Console.failing {
                    try opened.events(since: span.lowerBound, until: span.upperBound, key: journal.key)
                }
            } ?? []
        let latest = try Console.failing { try opened.latestRows() }
        let report = HistoryReport(journal: path, entries: entries, span: span ?? now...now)
        let minutes = max((span.map { $0.upperBound.timeIntervalSince($0.lowerBound) } ?? 0) / 60, 1 / 60)
        var waitersNow: [String: Int] = [:]
        for row in latest {
            guard let snapshot = row.snapshot, options.key == nil || snapshot.key == options.key else { continue }
            waitersNow[row.source + "\u{0}" + snapshot.key] = snapshot.waiters.count
        }
        let locks = report.locks
        if json {
            var output = [UInt8]()
            let objects: [JSONValue] = locks.map { lock in
                let history = lock.history
                func number(_ value: Double?) -> JSONValue {
                    value.map { .number(($0 * 1000).rounded() / 1000) } ?? .null
                }
                return .object([
                    "key": .string(history.key), "source": .string(history.source),
                    "acquisitions_per_minute": number(Double(history.acquisitions) / minutes),
                    "hold_seconds": .object([
                        "p50": number(lock.holdP50), "p95": number(lock.holdP95), "max": number(lock.holdMax),
                    ]),
                    "wait_seconds": .object([
                        "p50": number(lock.waitP50), "p95": number(lock.waitP95), "max": number(lock.waitMax),
                    ]),
                    "waiters_now": .number(Double(waitersNow[history.source + "\u{0}" + history.key] ?? 0)),
                ])
            }
            JSONValue.encodeObject(
                [
                    ("schema", .number(Double(Reports.schemaVersion))), ("journal", .string(path)),
                    ("since", span.map { .string(Reports.isoTime($0.lowerBound)) } ?? .null),
                    ("until", span.map { .string(Reports.isoTime($0.upperBound)) } ?? .null),
                    ("locks", .array(objects)),
                ], into: &output)
            output.append(0x0A)
            Console.write(bytes: output)
            return
        }
        var rows = [["LOCK", "ACQ/MIN", "HOLD p50", "p95", "max", "WAIT p50", "p95", "max", "WAITERS NOW"]]
        for lock in locks {
            let history = lock.history
            rows.append([
                Reports.lockTitle(key: history.key, records: history.records),
                String(format: "%.1f", Double(history.acquisitions) / minutes),
                HistoryReport.seconds(lock.holdP50), HistoryReport.seconds(lock.holdP95),
                HistoryReport.seconds(lock.holdMax),
                HistoryReport.seconds(lock.waitP50), HistoryReport.seconds(lock.waitP95),
                HistoryReport.seconds(lock.waitMax),
                "\(waitersNow[history.source + "\u{0}" + history.key] ?? 0)",
            ])
        }
        if locks.isEmpty {
            Console.write("\(TerminalText.escaped(path)): no lock events in the span\n")
        } else {
            Console.write(TextTable(rows).lines().joined(separator: "\n") + "\n")
        }
    }
}
