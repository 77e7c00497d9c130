import ArgumentParser
import Foundation
import LockJournal
import LockMonitor
import LockReports
import RecordStore

/// Which journal and which span of it a history command reads: shared by `report` and `stats`.
struct JournalOptions: ParsableArguments {
    @Argument(
        help: ArgumentHelp(
            "The journal (`--record`'s file). Default: the \"record\" of recording.json in the state directory.",
            valueName: "journal"))
    var journal: String?

    @Option(
        help: ArgumentHelp(
            "From this long ago (1h, 30m) or this moment (2026-12-01T03:00:00Z). Default: the journal's start.",
            valueName: "duration-or-time"))
    var since: String?

    @Option(help: ArgumentHelp("Up to this moment or this long ago. Default: the journal's end.", valueName: "time"))
    var until: String?

    @Option(help: ArgumentHelp("Only this lock key.", valueName: "key"))
    var key: String?

    func validate() throws {
        for (name, value) in [("--since", since), ("--until", until)] {
            if let value, Self.moment(value, now: Date()) == nil {
                throw ValidationError("\(name) takes a duration such as 1h or a time such as 2026-12-01T03:00:00Z")
            }
        }
    }

    /// A duration ago or a moment, as `--since` and `--until` take them.
    static func moment(_ text: String, now: Date) -> Date? {
        if let seconds = DurationText.parse(text) { return now.addingTimeInterval(-seconds) }
        return PrefectTimestamp.parse(text)
    }

    /// The journal, opened to read, and the span asked for (within what it holds); nil when it
    /// holds nothing in that span.
    func open(now: Date = Date()) throws -> (journal: Journal, path: String, span: ClosedRange<Date>?) {
        let path: String
        if let journal {
            path = journal
        } else {
            guard
                let settings = try Console.failing({
                    try RecordingSettings.operatorDefault(besides: AuditLog.defaultLocation().path)
                })
            else {
                throw ValidationError("name a journal: no recording.json in the state directory says where one is")
            }
            path = settings.path
        }
        let journal = try Console.failing { try Journal(readingAt: path) }
        guard let recorded = try Console.failing({ try journal.span() }) else { return (journal, path, nil) }
        // Within what was recorded: a rate per minute is over the time the journal covers.
        let from = max(since.flatMap { Self.moment($0, now: now) } ?? recorded.lowerBound, recorded.lowerBound)
        let to = min(until.flatMap { Self.moment($0, now: now) } ?? recorded.upperBound, recorded.upperBound)
        return (journal, path, from <= to ? from...to : nil)
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "What a recorded journal says: each lock's acquisitions, hold and wait times, queues, breaks.",
        discussion: """
            Per lock: acquisitions and hand-offs, hold and wait p50, p95 and max, the total waited, the deepest \
            queue, breaks and deadlocks, and a sparkline of waiters; then the locks that cost the most waiting. \
            --timeline draws who held each lock over time; --svg writes that picture for a post-mortem.
            """)

    @OptionGroup var journal: JournalOptions

    @Flag(help: "One JSON document (docs/json.md).")
    var json = false

    @Flag(help: "A Gantt chart of the span: one lane per lock, a letter per holder, waiters and breaks.")
    var timeline = false

    @Option(help: ArgumentHelp("Write the timeline as a standalone SVG to this file.", valueName: "file"))
    var svg: String?

    @Option(help: "How many locks the list of the most waited names.")
    var top = 10

    func validate() throws {
        guard top >= 0 else { throw ValidationError("--top takes zero or more") }
        if json, timeline { throw ValidationError("--json and --timeline are two different outputs; choose one") }
    }

    func run() throws {
        let (opened, path, span) = try journal.open()
        guard let span else {
            if json {
                Console.write(
                    "{\"schema\": \(Reports.schemaVersion), \"journal\": \(String(decoding: jsonString(path), as: UTF8.self)), \"locks\": []}\n"
                )
            } else {
                Console.write("\(TerminalText.escaped(path)): nothing recorded in this span\n")
            }
            return
        }
        let entries = try Console.failing {
            try opened.events(since: span.lowerBound, until: span.upperBound, key: journal.key)
        }
        let report = HistoryReport(journal: path, entries: entries, span: span, top: top)
        if let svg {
            let chart = Timeline(report.locks.map(\.history), span: span, columns: 200)
            try Console.failing { try Data(TimelineSVG.render(chart).utf8).write(to: URL(fileURLWithPath: svg)) }
            if !json { Console.warn("wrote \(svg) (\(TimelineSVG.width)×\(TimelineSVG.height(of: chart)))") }
        }
        if json {
            Console.write(bytes: report.json())
        } else if timeline {
            let columns = max(20, (isatty(STDOUT_FILENO) == 1 ? Console.terminalWidth : 100) - 26)
            let chart = Timeline(report.locks.map(\.history), span: span, columns: columns)
            Console.write(chart.lines().joined(separator: "\n") + "\n")
        } else {
            Console.write(report.lines().joined(separator: "\n") + "\n")
        }
    }

    private func jsonString(_ text: String) -> [UInt8] {
        var output = [UInt8]()
        JSONValue.encodeString(text, into: &output)
        return output
    }
}
