import Dashboard
import Foundation
import LockMonitor

/// Records one source's turns into a ``Journal``: every event, and each lock row whenever what
/// it shows changes, written on a thread of its own a second's turns at a time (``JournalWriter``);
/// what is older than the retention is pruned at start and hourly. A journal that fails (a full
/// disk) stops recording and says why once; the watch goes on.
public final class JournalRecorder: TurnRecorder {
    private let writer: JournalWriter
    private let source: String
    private let retention: TimeInterval
    private var recorded: [String: RowSnapshot] = [:]
    private var lastPrune: Date?

    /// Why recording stopped, once it has.
    public var failure: String? { writer.failure }

    /// Called once, on the journal's thread, when recording stops.
    public func onFailure(_ handler: @escaping @Sendable (String) -> Void) {
        writer.onFailure = handler
    }

    /// How often the journal is pruned.
    static let pruneInterval: TimeInterval = 3600

    /// A recorder of `source`'s turns (its location, as `list --json` names it) into `journal`.
    public init(journal: Journal, source: String, retention: TimeInterval = Journal.defaultRetention) {
        writer = JournalWriter(journal: journal, source: source)
        self.source = source
        self.retention = retention
    }

    /// Waits until every turn recorded so far is in the journal.
    public func flush() {
        writer.flush()
    }

    public func record(
        _ events: [MonitorEvent], upserts: [LockRow], removals: [RowID], replacingAll: Bool, at now: Date
    ) {
        guard failure == nil else { return }
        var changes: [Journal.RowChange] = []
        var present = Set<String>()
        for row in upserts {
            guard let name = row.lockName else { continue }
            present.insert(name)
            let snapshot = RowSnapshot(row)
            switch (recorded[name], snapshot) {
            case (nil, nil): continue
            case (let old?, let new?) where old.showsTheSame(as: new): continue
            default: break
            }
            recorded[name] = snapshot
            changes.append(Journal.RowChange(time: now, source: source, rowID: name, snapshot: snapshot))
        }
        var gone = removals.compactMap(\.lockName)
        if replacingAll { gone += recorded.keys.filter { !present.contains($0) } }
        for name in Set(gone) where recorded.removeValue(forKey: name) != nil {
            changes.append(Journal.RowChange(time: now, source: source, rowID: name, snapshot: nil))
        }
        var pruning: (retention: TimeInterval, now: Date)?
        if lastPrune.map({ now.timeIntervalSince($0) >= Self.pruneInterval }) ?? true {
            lastPrune = now
            pruning = (retention, now)
        }
        guard !events.isEmpty || !changes.isEmpty || pruning != nil else { return }
        writer.write(events, rows: changes, pruning: pruning)
    }
}
