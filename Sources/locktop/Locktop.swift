import ArgumentParser
import Foundation

/// The `locktop` command: htop for Prefect lock files.
@main
struct Locktop: ParsableCommand {
    /// This build's version, shown by `--version`, `locktop version` and `--help`.
    static let version = "0.3.0"

    static let configuration = CommandConfiguration(
        commandName: "locktop",
        abstract: "Watch, break and script Prefect record and lock files.",
        discussion: """
            locktop \(version), for Linux (inotify, fanotify, /proc). locktop reads a Prefect records directory (default $PREFECT_HOME/records, else \
            $PREFECT_HOME/storage with its locks in $PREFECT_HOME/locks; PREFECT_HOME defaults to ~/.prefect) exactly as Prefect does. Locks are <key>.lock files holding \
            {"holder": ..., "expiration": ...}; key "task.b" locks "task.lock", as Python's with_suffix does.

            Lock states: held (held? when nothing can say whether its holder lives), expired (past its \
            expiration), stale (its holder is proven dead), suspect (held longer than --stale-after, or far \
            longer than it usually is, by a holder nobody can judge), unreadable (empty or garbled past the \
            grace period), writing (empty or garbled, probably mid-write).
            """,
        version: version,
        subcommands: [
            DashboardCommand.self, DemoCommand.self, ListCommand.self, LockCommand.self, ReleaseCommand.self,
            BreakCommand.self, EventsCommand.self, ServeCommand.self, AuditCommand.self, ReportCommand.self,
            StatsCommand.self, ReplayCommand.self, AgentCommand.self, VersionCommand.self,
            DemoWorkerCommand.self,
        ],
        defaultSubcommand: DashboardCommand.self
    )

    /// Parses `arguments` and runs the command. A usage error of the default command (a bare
    /// `locktop` with no directory) is one error line and one usage line, not the whole help.
    static func run(_ arguments: [String], subcommands: [String]) {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let namesACommand = arguments.contains { subcommands.contains($0) }
            if !namesACommand, exitCode(for: error) == .validationFailure, case let text = message(for: error),
                !text.isEmpty
            {
                FileHandle.standardError.write(
                    Data(
                        "Error: \(text)\nUsage: \(usageString(for: DashboardCommand.self))\n  See 'locktop --help' for the commands.\n"
                            .utf8))
                Foundation.exit(ExitCode.validationFailure.rawValue)
            }
            exit(withError: error)
        }
    }

    /// Parses the arrangement of ``CommandLineArrangement`` and runs the command.
    static func main() {
        // Swift copies argv into CommandLine.arguments on first use: copy it before the passwords are hidden.
        let arguments = CommandLine.arguments
        CommandLineSecrets.hidePasswords()
        let names = configuration.subcommands.compactMap { $0.configuration.commandName } + ["help"]
        switch CommandLineArrangement.arrange(Array(arguments.dropFirst()), subcommands: names) {
        case .arguments(let arguments):
            run(arguments, subcommands: names)
        case .unknownCommand(let word, let suggestion):
            let hint =
                suggestion.map { "did you mean \"\($0)\"?" }
                ?? "the commands are \(names.filter { $0 != "demo-worker" }.joined(separator: ", "))"
            Console.warn("error: unknown command \"\(word)\"; \(hint)")
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
    }
}
