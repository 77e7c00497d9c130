import ArgumentParser
import Foundation
import LockMonitor
import RecordStore

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Publish this host's lock holders for every locktop that shares the locks directory.",
        discussion: """
            Runs as root on each worker host (a systemd unit, or a DaemonSet with hostPID). It watches the \
            lock files with fanotify and, every --interval, replaces .locktop/host-HOSTNAME.json in the locks \
            directory: which local process created each lock file, whether it lives, and who waits. Another \
            host's locktop then judges those holders: dead is stale, alive is held, and an agent silent for \
            three intervals proves nothing (held?). Runs until interrupted.
            """)

    @OptionGroup var directories: DirectoryOptions
    @OptionGroup var judgement: JudgementOptions
    @OptionGroup var watch: WatchOptions

    @Option(help: "Seconds between reports.")
    var interval: Double = 2

    func validate() throws {
        guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be 0.1 to 3600 seconds") }
        guard directories.redisURL == nil else { throw ValidationError("the agent watches lock files, not Redis") }
    }

    func run() throws {
        let monitor = try watch.makeMonitor(directories, judgement)
        if let notice = monitor.identityNotice { Console.warn(notice) }
        let loop = MonitorLoop(source: monitor)
        let bootID = HostReport.currentBootID()
        var publisher = HostReportPublisher(
            resumingIn: monitor.snapshot.locksHandle, hostName: monitor.environment.hostName, bootID: bootID)
        Console.warn(
            "publishing \(monitor.configuration.locksDirectory)/\(LockFiles.sharedFolderName)/"
                + "\(HostReport.fileName(forHost: monitor.environment.hostName)) every \(interval)s; Ctrl-C stops")
        var next = MonotonicClock.seconds()
        var lastError: String?
        while true {
            let now = MonotonicClock.seconds()
            if now >= next {
                next = now + interval
                do {
                    guard let locks = monitor.snapshot.locksHandle else {
                        throw RecordStoreError.directoryMissing(path: monitor.configuration.locksDirectory)
                    }
                    try HostReportPublisher.publish(
                        publisher.report(of: monitor, interval: interval, bootID: bootID), in: locks)
                    lastError = nil
                } catch {
                    let text = "agent: cannot publish: \(error)"
                    if text != lastError { Console.warn(text) }
                    lastError = text
                }
            }
            _ = loop.turn(timeout: max(0.01, min(1, next - MonotonicClock.seconds())))
        }
    }
}
