import Foundation

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
