import ArgumentParser
import Foundation
import LockMonitor
import RecordStore
import RedisMonitor
import RedisStore

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Publish this host's lock holders for every locktop that shares the locks directory.",
        discussion: """
            Runs as root on each worker host (a systemd unit, or a DaemonSet with hostPID). It watches the \
            lock files with fanotify and, every --interval, replaces .locktop/host-HOSTNAME.json in the locks \
            directory: which local process created each lock file, whether it lives, and who waits. Another \
            host's locktop then judges those holders: dead is stale, alive is held, and an agent silent for \
            three intervals proves nothing (held?). With --publish redis://…, the report goes to Redis \
            instead, as locktop:agent:HOSTNAME expiring after three intervals, for readers given \
            --agent-reports with that URL. Runs until interrupted.
            """)

    @OptionGroup var directories: DirectoryOptions
    @OptionGroup var judgement: JudgementOptions
    @OptionGroup var watch: WatchOptions

    @Option(help: "Seconds between reports.")
    var interval: Double = 2

    @Option(
        help: ArgumentHelp(
            "Publish to this Redis database rather than the locks directory: redis://[user:password@]host[:port][/db].",
            valueName: "url"))
    var publish: String?

    func validate() throws {
        guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be 0.1 to 3600 seconds") }
        guard directories.redisURL == nil else { throw ValidationError("the agent watches lock files, not Redis") }
        if let publish {
            do {
                _ = try RedisURL(publish)
            } catch {
                throw ValidationError("--publish: \(error)")
            }
        }
    }

    func run() throws {
        let monitor = try watch.makeMonitor(directories, judgement)
        if let notice = monitor.identityNotice { Console.warn(notice) }
        let loop = MonitorLoop(source: monitor)
        let bootID = HostReport.currentBootID()
        let host = monitor.environment.hostName
        let redis = try publish.map {
            RedisReportPublisher(
                url: try directories.parsedRedisURL($0), certificateAuthorities: directories.tlsCA,
                besides: AuditLog.defaultLocation())
        }
        let previous =
            redis.map { $0.lastReport(ofHost: host) }
            ?? HostReportPublisher.lastReport(in: monitor.snapshot.locksHandle, hostName: host)
        var publisher = HostReportPublisher(resuming: previous, hostName: host, bootID: bootID)
        let place =
            redis.map { "\($0.location) \(RedisHostReportKeys.reportPrefix)\(host)" }
            ?? "\(monitor.configuration.locksDirectory)/\(LockFiles.sharedFolderName)/\(HostReport.fileName(forHost: host))"
        Console.warn("publishing \(place) every \(interval)s; Ctrl-C stops")
        var next = MonotonicClock.seconds()
        var lastError: String?
        while true {
            let now = MonotonicClock.seconds()
            if now >= next {
                next = now + interval
                do {
                    let report = publisher.report(of: monitor, interval: interval, bootID: bootID)
                    if let redis {
                        try redis.publish(report)
                    } else {
                        guard let locks = monitor.snapshot.locksHandle else {
                            throw RecordStoreError.directoryMissing(path: monitor.configuration.locksDirectory)
                        }
                        try HostReportPublisher.publish(report, in: locks)
                    }
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
