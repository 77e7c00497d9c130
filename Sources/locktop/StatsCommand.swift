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
        let statistics = RecentStatistics(
            report: HistoryReport(journal: path, entries: entries, span: span ?? now...now), latest: latest)
        if json {
            Console.write(bytes: statistics.json(span: span))
        } else {
            Console.write(statistics.lines().joined(separator: "\n") + "\n")
        }
    }
}
