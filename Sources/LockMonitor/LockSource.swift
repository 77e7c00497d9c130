import Foundation

/// What the live views (the dashboard, `events`) watch: a directory (``LockMonitor``) or a Redis
/// database (`RedisLockMonitor`). ``MonitorLoop`` drives either the same way.
public protocol LockSource: AnyObject {
    /// Clock, host and process table.
    var environment: MonitorEnvironment { get }
    /// The descriptors to poll: when one is readable, ``processChanges()`` has work.
    var descriptors: [Int32] { get }
    /// Applies what the descriptors brought; returns what happened.
    func processChanges() -> [MonitorEvent]
    /// Handles time (expirations, polls, reconnects); call about once a second.
    func tick() -> [MonitorEvent]
    /// What changed since the last call, for views that update row by row.
    func takeChanges() -> MonitorChanges
    /// The locks someone is looking at (a detail pane, a dialog), by name: judged every tick, so
    /// their reasons and durations move with the clock.
    var closelyWatched: Set<String> { get set }
    /// Something to tell the operator once at start, such as why processes are not identified.
    var notice: String? { get }
    /// Where the locks are, for headers and messages: a directory, or a server without its password.
    var location: String { get }
    /// How the source watches, in words: `inotify`, `polling every 2s`, `redis, keyspace notifications`.
    var watchText: String { get }
    /// The deadlocks among its locks, as far as their waiters are known.
    var deadlocks: [WaitForGraph.Deadlock] { get }
}

extension LockMonitor: LockSource {
    public var descriptors: [Int32] { [fileDescriptor, identityDescriptor].compactMap { $0 } }
    public var notice: String? {
        let notices = [trustNotice, identityNotice].compactMap { $0 } + environment.evidenceWarnings
        return notices.isEmpty ? nil : notices.joined(separator: "; ")
    }
    public var location: String { configuration.recordsDirectory }
    public var watchText: String { watchMode.text }
}
