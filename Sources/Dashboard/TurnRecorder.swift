import Foundation
import LockMonitor

/// Where a watching front end's turns are kept (`--record`): the events of each turn and the rows
/// they changed. The dashboard, `events` and `serve` call it alike.
public protocol TurnRecorder: AnyObject {
    /// Takes in one turn at `now`: its `events`, the rows it changed or added (`upserts`) and those it
    /// removed; with `replacingAll`, `upserts` are every row there is.
    func record(_ events: [MonitorEvent], upserts: [LockRow], removals: [RowID], replacingAll: Bool, at now: Date)
}
