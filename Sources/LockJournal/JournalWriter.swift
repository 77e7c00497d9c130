import Foundation
import LockMonitor
import Synchronization

/// Writes a ``Journal`` on a thread of its own, so that a slow disk (SQLite's checkpoints sync
/// it) never delays the watch: the watch hands over each turn and goes on. Turns are gathered
/// and written together every ``interval`` in one transaction, which keeps the bytes written per
/// event low (a transaction rewrites whole pages). At most ``backlogLimit`` events wait; beyond
/// that, recording stops and says so.
final class JournalWriter: @unchecked Sendable {
    /// The turns waiting to be written.
    private struct Batch {
        var events: [MonitorEvent] = []
        var rows: [Journal.RowChange] = []
        var pruning: (retention: TimeInterval, now: Date)?
        var isScheduled = false
    }

    // The journal is used on `queue` alone.
    private let journal: Journal
    private let source: String
    private let queue = DispatchQueue(label: "locktop.journal")
    private let pending = Mutex(Batch())
    private let trouble = Mutex<String?>(nil)
    private let handler = Mutex<(@Sendable (String) -> Void)?>(nil)

    /// How many events and row changes may wait to be written.
    static let backlogLimit = 100_000
    /// How long turns gather before they are written.
    static let interval: TimeInterval = 1

    init(journal: Journal, source: String) {
        self.journal = journal
        self.source = source
    }

    /// Why recording stopped, once it has.
    var failure: String? { trouble.withLock { $0 } }

    /// Called once, on the journal's thread, when recording stops.
    var onFailure: (@Sendable (String) -> Void)? {
        get { handler.withLock { $0 } }
        set { handler.withLock { $0 = newValue } }
    }

    /// Queues one turn, and a prune of what is older than `retention` when `pruning`.
    func write(_ events: [MonitorEvent], rows: [Journal.RowChange], pruning: (retention: TimeInterval, now: Date)?) {
        guard failure == nil else { return }
        let (admitted, schedule) = pending.withLock { batch -> (Bool, Bool) in
            guard batch.events.count + batch.rows.count < Self.backlogLimit else { return (false, false) }
            batch.events += events
            batch.rows += rows
            if let pruning { batch.pruning = pruning }
            defer { batch.isScheduled = true }
            return (true, !batch.isScheduled)
        }
        guard admitted else {
            fail("recording stopped: the journal fell \(Self.backlogLimit) events behind")
            return
        }
        if schedule { queue.asyncAfter(deadline: .now() + Self.interval) { self.writePending() } }
    }

    /// Writes everything queued, and waits until it is written.
    func flush() {
        queue.sync { writePending() }
    }

    private func writePending() {
        let batch = pending.withLock { batch in
            defer { batch = Batch() }
            return batch
        }
        guard failure == nil, !batch.events.isEmpty || !batch.rows.isEmpty || batch.pruning != nil else { return }
        do {
            try journal.append(batch.events, rows: batch.rows, source: source)
            if let pruning = batch.pruning { try journal.prune(olderThan: pruning.retention, now: pruning.now) }
        } catch {
            fail("recording stopped: \(error.description)")
        }
    }

    private func fail(_ message: String) {
        let first = trouble.withLock { failure in
            guard failure == nil else { return false }
            failure = message
            return true
        }
        if first { onFailure?(message) }
    }
}
