import Dashboard
import Foundation
import LockMonitor

/// `locktop serve`'s watch: the dashboard's source and rows (so the verdicts are the dashboard's),
/// kept up to date by patches as the dashboard's are, and written into ``LockMetrics``. It runs
/// on one thread; the metrics it writes are read by the HTTP server's tasks.
public final class ServeLoop {
    private let source: DashboardSource
    private let loop: MonitorLoop
    /// The rows as last patched.
    public private(set) var data: DashboardData
    /// Where the rows' tallies and the events go.
    public let metrics: LockMetrics
    /// Where the events are streamed.
    public let events: EventBroadcast

    /// A loop over `source`, writing into `metrics` and `events`.
    public init(source: DashboardSource, metrics: LockMetrics, events: EventBroadcast) {
        self.source = source
        self.metrics = metrics
        self.events = events
        loop = MonitorLoop(source: source.lockSource)
        data = source.data(now: source.lockSource.environment.now())
        _ = source.lockSource.takeChanges()
        metrics.update(from: data)
        metrics.updateKeys(upserts: data.rows, removals: [])
    }

    /// Runs for ever.
    public func run() -> Never {
        while true { step() }
    }

    /// One turn: waits for a change or the tick (at most `timeout` seconds when given), patches
    /// the rows it touched, and updates the metrics.
    public func step(timeout: Double? = nil) {
        let turn = loop.turn(timeout: timeout)
        metrics.record(turn.events)
        events.publish(turn.events, source: metrics.source)
        let changes = source.lockSource.takeChanges()
        let now = source.lockSource.environment.now()
        if changes.everything {
            let new = source.data(now: now)
            metrics.updateKeys(upserts: new.rows, removals: data.rows.map(\.id).filter { new.row(withID: $0) == nil })
            data = new
        } else if !changes.locks.isEmpty || !changes.records.isEmpty
            || (turn.ticked && source.storeTrouble != data.storeTrouble)
        {
            let patch = source.patch(for: changes, shown: data, now: now, detailID: nil)
            data.apply(patch)
            metrics.updateKeys(upserts: patch.upserts, removals: patch.removals)
        }
        metrics.update(from: data)
    }
}
