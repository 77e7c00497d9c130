import Foundation
import LockMonitor
import RecordStore
import RedisStore
import Synchronization

/// The host reports agents publish in Redis (``RedisHostReportKeys``), read by one background
/// thread every second and aged by the server's clock, so that asking never stalls a watch: the
/// last answer, carried forward by this host's monotonic clock. A server that does not answer is
/// tried again every ten seconds, with a warning for the header meanwhile.
public final class RedisHostReports: HostReportStore {
    /// How often the reports are read again.
    public static let refreshInterval: TimeInterval = 1
    /// How long after a failure the server is tried again.
    public static let retryInterval: TimeInterval = 10
    /// The most bytes of reports read in one pass.
    public static let readBudget = 256 * 1024 * 1024

    private struct Answer {
        var reports: [StoredHostReport]
        /// When it was read, in monotonic seconds.
        var readAt: Double
    }

    private struct State {
        var answer: Answer?
        var warning: String?
        var attempted = false
    }

    private let url: RedisURL
    private let certificateAuthorities: String?
    private let state = Mutex(State())
    private let thread = LazyThread(name: "locktop-agent-reports")
    private let answered = NSCondition()
    /// Until when (monotonic seconds) ``currentReports()`` waits for a first answer.
    private let waitDeadline: Double

    /// Reports from the database at `url` (over TLS for `rediss://`, trusting
    /// `certificateAuthorities` or the system's CAs); the first ask waits up to `wait` seconds
    /// for an answer: a one-shot `list` waits a little, a watch never.
    public init(url: RedisURL, certificateAuthorities: String? = nil, wait: TimeInterval = 0) {
        self.url = url
        self.certificateAuthorities = certificateAuthorities
        waitDeadline = MonotonicClock.seconds() + max(0, wait)
    }

    public var warning: String? { state.withLock { $0.warning } }

    public func currentReports() -> [StoredHostReport] {
        thread.startIfNeeded { [self] in readForever() }
        answered.lock()
        while state.withLock({ !$0.attempted }), MonotonicClock.seconds() < waitDeadline {
            _ = answered.wait(
                until: Date().addingTimeInterval(min(0.05, max(0, waitDeadline - MonotonicClock.seconds()))))
        }
        answered.unlock()
        guard let answer = state.withLock({ $0.answer }) else { return [] }
        let elapsed = max(0, MonotonicClock.seconds() - answer.readAt)
        return answer.reports.map { StoredHostReport(hostName: $0.hostName, report: $0.report, age: $0.age + elapsed) }
    }

    /// The background thread: a read every second on one connection, made again after a failure.
    private func readForever() {
        var keys: RedisHostReportKeys?
        var parsed: [String: (publishedAt: Int, report: HostReport?)] = [:]
        while true {
            let started = MonotonicClock.seconds()
            var pause = Self.refreshInterval
            do {
                if keys == nil {
                    keys = RedisHostReportKeys(
                        connection: try RedisConnection(
                            url: url, timeout: 3, certificateAuthorities: certificateAuthorities))
                }
                let listing = try keys!.listing(
                    maximumHosts: HostReportBoard.maximumReports, maximumSize: HostReport.maximumSize,
                    budget: Self.readBudget, known: parsed.mapValues(\.publishedAt))
                var reports: [StoredHostReport] = []
                var kept: [String: (publishedAt: Int, report: HostReport?)] = [:]
                for entry in listing.entries {
                    // A report is parsed only when its host published anew.
                    let report =
                        entry.isUnchanged
                        ? parsed[entry.hostName]?.report : entry.report.flatMap { HostReport(parsing: $0) }
                    if entry.isUnchanged || entry.report != nil { kept[entry.hostName] = (entry.publishedAt, report) }
                    reports.append(
                        StoredHostReport(
                            hostName: entry.hostName, report: report,
                            age: Double(listing.serverTime - entry.publishedAt) / 1000))
                }
                parsed = kept
                let readAt = (started + MonotonicClock.seconds()) / 2
                state.withLock {
                    $0.answer = Answer(reports: reports, readAt: readAt)
                    $0.warning = nil
                }
            } catch {
                keys = nil
                parsed = [:]
                pause = Self.retryInterval
                state.withLock {
                    $0.warning = "agent reports at \(url.description) cannot be read (\(error)); their evidence waits"
                }
            }
            state.withLock { $0.attempted = true }
            answered.lock()
            answered.broadcast()
            answered.unlock()
            Thread.sleep(forTimeInterval: max(0.05, pause - (MonotonicClock.seconds() - started)))
        }
    }
}
