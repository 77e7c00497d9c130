import Foundation
import RecordStore

/// Host reports kept outside the locks directory (in Redis, see `RedisMonitor`'s
/// `RedisHostReports`), where agents publish with `--publish redis://…`. The store's own clock
/// ages them, and whoever may write there is trusted (its ACL is the boundary): its reports
/// speak of every lock, whoever owns the file. Asking never blocks longer than the store allows.
public protocol HostReportStore: Sendable {
    /// Every report there now, aged by the store's clock; empty while it cannot be read.
    func currentReports() -> [StoredHostReport]
    /// Why the store cannot be read now, for a header; nil while it answers.
    var warning: String? { get }
}

extension HostReportStore {
    /// The agents whose reports expired, for a header or a warning, as of `now` on this host's
    /// clock: `agent on worker-b silent since 12:03:14`. Their locks stay `held?`: the store no
    /// longer says which locks those were. Nil while every agent there reports.
    public func silenceNotice(now: Date) -> String? {
        let silent = currentReports().filter { $0.report == nil }.sorted { $0.age < $1.age }
        guard !silent.isEmpty else { return nil }
        let named = silent.prefix(3).map {
            "agent on \(TerminalText.escaped($0.hostName)) silent since \(DurationText.timeOfDay(now.addingTimeInterval(-max(0, $0.age))))"
        }
        let more = silent.count > 3 ? " and \(silent.count - 3) more" : ""
        return named.joined(separator: ", ") + more
    }
}

/// One host's entry in a ``HostReportStore``.
public struct StoredHostReport: Sendable {
    /// The publishing host.
    public var hostName: String
    /// Its report; nil once it expired, which means its agent went silent.
    public var report: HostReport?
    /// Seconds since it was published, by the store's clock.
    public var age: TimeInterval

    /// Creates an entry.
    public init(hostName: String, report: HostReport?, age: TimeInterval) {
        self.hostName = hostName
        self.report = report
        self.age = age
    }
}
