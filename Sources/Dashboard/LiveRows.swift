import Foundation
import LockMonitor

/// A source's rows kept up to date without a screen, as the dashboard keeps its own: each turn
/// patches the rows the monitor says changed. `serve` and `events --record` follow a source with it.
public final class LiveRows {
    /// One turn's outcome.
    public struct Turn {
        public var events: [MonitorEvent]
        public var upserts: [LockRow]
        public var removals: [RowID]
        /// Whether every row was read again (``upserts`` holds them all).
        public var replacedAll: Bool
        public var ticked: Bool
    }

    /// The source followed.
    public let source: DashboardSource
    private let loop: MonitorLoop
    /// The rows as last patched.
    public private(set) var data: DashboardData
    /// Where each turn is recorded, when `--record` asks.
    public var recorder: TurnRecorder?

    /// Follows `source`, from its rows now.
    public init(source: DashboardSource, recorder: TurnRecorder? = nil) {
        self.source = source
        self.recorder = recorder
        loop = MonitorLoop(source: source.lockSource)
        let now = source.lockSource.environment.now()
        data = source.data(now: now)
        _ = source.lockSource.takeChanges()
        recorder?.record([], upserts: data.rows, removals: [], replacingAll: true, at: now)
    }

    /// One turn: waits for a change or the tick (at most `timeout` seconds when given) and patches
    /// the rows it touched.
    public func step(timeout: Double? = nil) -> Turn {
        let turn = loop.turn(timeout: timeout)
        let changes = source.lockSource.takeChanges()
        let now = source.lockSource.environment.now()
        var outcome = Turn(events: turn.events, upserts: [], removals: [], replacedAll: false, ticked: turn.ticked)
        if changes.everything {
            let new = source.data(now: now)
            outcome.removals = data.rows.map(\.id).filter { new.row(withID: $0) == nil }
            outcome.upserts = new.rows
            outcome.replacedAll = true
            data = new
        } else if !changes.locks.isEmpty || !changes.records.isEmpty
            || (turn.ticked && source.storeTrouble != data.storeTrouble)
        {
            let patch = source.patch(for: changes, shown: data, now: now, detailID: nil)
            data.apply(patch)
            outcome.upserts = patch.upserts
            outcome.removals = Array(patch.removals)
        }
        recorder?.record(
            outcome.events, upserts: outcome.upserts, removals: outcome.removals, replacingAll: outcome.replacedAll,
            at: now)
        return outcome
    }
}
