import ArgumentParser

/// The `locktop` command: htop for Prefect lock files.
@main
struct Locktop: ParsableCommand {
    /// This build's version, shown by `--version`, `locktop version` and `--help`.
    static let version = "0.3.0"

    static let configuration = CommandConfiguration(
        commandName: "locktop",
        abstract: "Watch, break and script Prefect record and lock files.",
        discussion: """
            locktop \(version), for Linux (inotify, fanotify, /proc). locktop reads a Prefect records directory (default $PREFECT_HOME/records, ~/.prefect/records \
            when PREFECT_HOME is unset) exactly as Prefect does. Locks are <key>.lock files holding \
            {"holder": ..., "expiration": ...}; key "task.b" locks "task.lock", as Python's with_suffix does.

            Lock states: held, expired (past its expiration), stale (holder process gone, or held \
            longer than --stale-after), unreadable (empty or garbled past the grace period), writing \
            (empty or garbled, probably mid-write).
            """,
        version: version,
        subcommands: [DashboardCommand.self, DemoCommand.self, ListCommand.self, LockCommand.self, ReleaseCommand.self,
                      BreakCommand.self, EventsCommand.self, AuditCommand.self, VersionCommand.self, DemoWorkerCommand.self],
        defaultSubcommand: DashboardCommand.self
    )
}
