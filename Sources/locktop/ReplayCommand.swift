import ArgumentParser
import Dashboard
import Foundation
import LockJournal
import LockMonitor
import RecordStore
import TerminalBackend

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run the dashboard over a recorded journal, with the journal's clock.",
        discussion: """
            The same table, blocking tree (b) and alerts as when it was recorded, read-only. \
            \(ReplayKeys.summary); the dashboard's other keys work as usual.
            """)

    @Argument(help: ArgumentHelp("The journal (`--record`'s file).", valueName: "journal"))
    var journal: String

    @Option(
        help: ArgumentHelp(
            "Start at this moment (2026-12-01T03:12:00Z) or this long before the end.", valueName: "time"))
    var from: String?

    @Option(help: "How many journal seconds pass per second.")
    var speed: Double = 10

    @Option(help: ArgumentHelp("Which recorded source, when the journal holds several.", valueName: "source"))
    var source: String?

    @OptionGroup var display: DisplayOptions

    func validate() throws {
        guard speed > 0, speed.isFinite, speed <= 1000 else { throw ValidationError("--speed takes 0 to 1000") }
    }

    func run() throws {
        try display.requireTerminal()
        let opened = try Console.failing { try Journal(readingAt: journal) }
        let span = try Console.failing { try opened.span() }
        var start: Date?
        if let from, let span {
            if let seconds = DurationText.parse(from) {
                start = span.upperBound.addingTimeInterval(-seconds)
            } else if let moment = PrefectTimestamp.parse(from) {
                start = moment
            } else {
                throw ValidationError("--from takes a time such as 2026-12-01T03:12:00Z or a duration such as 10m")
            }
        }
        let replay = try Console.failing {
            try ReplayLockSource(journal: opened, path: journal, source: source, from: start, speed: speed)
        }
        let terminal = Terminal(colors: display.usesColor)
        let session = DashboardSession(
            source: ReplayDashboardSource(replay: replay), backend: terminal, isReadOnly: true)
        session.interceptKey = { ReplayKeys.handle($0, on: replay) }
        let status = session.run()
        terminal.end()
        throw ExitCode(status)
    }
}
