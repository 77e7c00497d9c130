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

    /// A loop over `source`, writing into `metrics`.
    public init(source: DashboardSource, metrics: LockMetrics) {
        self.source = source
        self.metrics = metrics
        loop = MonitorLoop(source: source.lockSource)
        data = source.data(now: source.lockSource.environment.now())
        _ = source.lockSource.takeChanges()
        metrics.update(from: data)
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
        let changes = source.lockSource.takeChanges()
        let now = source.lockSource.environment.now()
        if changes.everything {
            data = source.data(now: now)
        } else if !changes.locks.isEmpty || !changes.records.isEmpty {
            data.apply(source.patch(for: changes, shown: data, now: now, detailID: nil))
        } else if turn.ticked, source.storeTrouble != data.storeTrouble {
            data.apply(source.patch(for: changes, shown: data, now: now, detailID: nil))
        }
        metrics.update(from: data)
    }
}
