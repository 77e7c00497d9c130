import Foundation
import LockMonitor
import RecordStore
import RedisStore

/// Where `locktop agent --publish redis://…` writes its host report each interval
/// (``RedisHostReportKeys``): one key per host, expiring after three intervals, stamped by the
/// server's clock. The connection is made again at the next publication after a failure. Since
/// the key expires while the agent is down, a copy of the report whose holders changed is kept in
/// the state directory too (`agent-report.json` beside the audit log), for a restarted agent to
/// resume from.
public final class RedisReportPublisher {
    private let url: RedisURL
    private let certificateAuthorities: String?
    private var keys: RedisHostReportKeys?
    /// The state file of the last report, and the holders it has.
    private let resumeFile: String?
    private var savedHolders: [HostReport.Holder]?

    /// A publisher to the database at `url`, keeping its resume copy beside `auditLog`; it
    /// connects at its first use.
    public init(url: RedisURL, certificateAuthorities: String? = nil, besides auditLog: AuditLog?) {
        self.url = url
        self.certificateAuthorities = certificateAuthorities
        resumeFile = auditLog.map { ($0.path as NSString).deletingLastPathComponent + "/agent-report.json" }
    }

    /// The server, without its password.
    public var location: String { url.description }

    private func connected() throws(RedisError) -> RedisHostReportKeys {
        if let keys { return keys }
        let made = RedisHostReportKeys(
            connection: try RedisConnection(url: url, timeout: 2, certificateAuthorities: certificateAuthorities))
        keys = made
        return made
    }

    /// Publishes `report`, to expire after ``HostReport/silenceIntervals`` of its interval, and
    /// keeps its resume copy when its holders changed (a copy that cannot be written is skipped).
    public func publish(_ report: HostReport) throws(RedisError) {
        let bytes = report.encoded()
        if let resumeFile, savedHolders != report.holders {
            if (try? StateDirectory.prepare((resumeFile as NSString).deletingLastPathComponent)) != nil,
                (try? StateDirectory.replace(resumeFile, bytes: bytes)) != nil
            {
                savedHolders = report.holders
            }
        }
        do {
            try connected().publish(
                bytes, host: report.hostName,
                timeToLive: Int((HostReport.silenceIntervals * report.interval * 1000).rounded(.up)))
        } catch {
            keys = nil
            throw error
        }
    }

    /// The report `host` last published: the one in Redis, else the resume copy; nil when neither
    /// can be read.
    public func lastReport(ofHost host: String) -> HostReport? {
        if let bytes = (try? connected().report(ofHost: host, maximumSize: HostReport.maximumSize)) ?? nil,
            let report = HostReport(parsing: bytes)
        {
            return report
        }
        guard let resumeFile, let bytes = (try? StateDirectory.read(resumeFile, limit: HostReport.maximumSize)) ?? nil
        else { return nil }
        return HostReport(parsing: bytes)
    }
}
