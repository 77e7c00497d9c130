import Dashboard
import Foundation
import LockMonitor

/// `locktop serve`'s watch: the dashboard's source and rows (so the verdicts are the dashboard's),
/// followed by ``LiveRows`` and written into ``LockMetrics``. It runs on one thread; the metrics
/// it writes are read by the HTTP server's tasks.
public final class ServeLoop {
    private let rows: LiveRows
    /// Where the rows' tallies and the events go.
    public let metrics: LockMetrics
    /// Where the events are streamed.
    public let events: EventBroadcast

    /// The rows as last patched.
    public var data: DashboardData { rows.data }

    /// A loop over `source`, writing into `metrics` and `events`, and into `recorder` when `--record` asks.
    public init(source: DashboardSource, metrics: LockMetrics, events: EventBroadcast, recorder: TurnRecorder? = nil) {
        self.metrics = metrics
        self.events = events
        rows = LiveRows(source: source, recorder: recorder)
        metrics.update(from: rows.data)
        metrics.updateKeys(upserts: rows.data.rows, removals: [])
    }

    /// Runs for ever.
    public func run() -> Never {
        while true { step() }
    }

    /// One turn: waits for a change or the tick (at most `timeout` seconds when given), patches
    /// the rows it touched, and updates the metrics.
    public func step(timeout: Double? = nil) {
        let turn = rows.step(timeout: timeout)
        metrics.record(turn.events)
        events.publish(turn.events, source: metrics.source)
        if !turn.upserts.isEmpty || !turn.removals.isEmpty {
            metrics.updateKeys(upserts: turn.upserts, removals: turn.removals)
        }
        metrics.update(from: rows.data)
    }
}
