import ArgumentParser
import Dashboard
import DashboardSources
import Foundation
import LockJournal
import LockMonitor
import RecordStore
import TerminalBackend

#if canImport(Glibc)
    import Glibc
#endif

/// Options of the dashboard, shared by `locktop` and `locktop demo`.
struct DisplayOptions: ParsableArguments {
    @Flag(help: "Hide and refuse every destructive key (r, X).")
    var readOnly = false

    @Flag(help: "No colours (also when NO_COLOR is set). States stay readable as text.")
    var noColor = false

    var usesColor: Bool {
        !noColor && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
    }

    /// Runs the dashboard over `source` in this terminal until `q` or a signal; returns the exit status.
    /// With `recorder`, each turn is recorded; a recording that stopped is said once the screen is gone.
    func runDashboard(_ source: DashboardSource, greeting: String? = nil, recorder: JournalRecorder? = nil) -> Int32 {
        let terminal = Terminal(colors: usesColor)
        let status = DashboardSession(
            source: source, backend: terminal, isReadOnly: readOnly, greeting: greeting, recorder: recorder
        ).run()
        terminal.end()
        recorder?.flush()
        if let failure = recorder?.failure { Console.warn("warning: \(failure)") }
        return status
    }

    /// Fails with a pointer to `locktop list` when there is no terminal to draw on.
    func requireTerminal() throws {
        guard isatty(STDOUT_FILENO) == 1, isatty(STDIN_FILENO) == 1 else {
            Console.warn(
                "error: the dashboard needs a terminal, and standard output or input is not one; use `locktop list` (or `locktop list --json`, `locktop events --json`) in scripts"
            )
            throw ExitCode.failure
        }
    }
}

struct DashboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "The live dashboard (the default command).",
        discussion: "Shows every lock with its state, holder, expiry countdown, age, records and poll pressure, "
            + "updated within milliseconds by inotify. " + KeyBindings.summary)

    @OptionGroup var directories: DirectoryOptions
    @OptionGroup var judgement: JudgementOptions
    @OptionGroup var display: DisplayOptions

    @OptionGroup var watch: WatchOptions
    @OptionGroup var recording: RecordOptions

    func run() throws {
        try display.requireTerminal()
        let source = try watch.makeDashboardSource(directories, judgement)
        let recorder = try recording.makeRecorder(source: source.lockSource.location, warnsOnFailure: false)
        let status = display.runDashboard(source, recorder: recorder)
        throw ExitCode(status)
    }
}
