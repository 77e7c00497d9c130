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

            Lock states: held, expired (past its expiration), stale (holder process gone, or held \
            longer than --stale-after), unreadable (empty or garbled past the grace period), writing \
            (empty or garbled, probably mid-write).
            """,
        version: version,
        subcommands: [
            DashboardCommand.self, DemoCommand.self, ListCommand.self, LockCommand.self, ReleaseCommand.self,
            BreakCommand.self, EventsCommand.self, AuditCommand.self, VersionCommand.self, DemoWorkerCommand.self,
        ],
        defaultSubcommand: DashboardCommand.self
    )

    /// Parses the arrangement of ``CommandLineArrangement`` and runs the command.
    static func main() {
        // Swift copies argv into CommandLine.arguments on first use: copy it before the passwords are hidden.
        let arguments = CommandLine.arguments
        CommandLineSecrets.hidePasswords()
        let names = configuration.subcommands.compactMap { $0.configuration.commandName } + ["help"]
        switch CommandLineArrangement.arrange(Array(arguments.dropFirst()), subcommands: names) {
        case .arguments(let arguments):
            main(arguments)
        case .unknownCommand(let word, let suggestion):
            let hint =
                suggestion.map { "did you mean \"\($0)\"?" }
                ?? "the commands are \(names.filter { $0 != "demo-worker" }.joined(separator: ", "))"
            Console.warn("error: unknown command \"\(word)\"; \(hint)")
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
    }
}
