import Foundation
import LockMonitor
import Synchronization

/// Writes a ``Journal`` on a thread of its own, so that a slow disk (SQLite's checkpoints sync
/// it) never delays the watch: the watch hands over each turn and goes on. At most
/// ``backlogLimit`` turns wait; beyond that, turns are dropped and recording says so.
final class JournalWriter: @unchecked Sendable {
    // The journal is used on `queue` alone.
    private let journal: Journal
    private let queue = DispatchQueue(label: "locktop.journal")
    private let backlog = Mutex(0)
    private let trouble = Mutex<String?>(nil)
    private let handler = Mutex<(@Sendable (String) -> Void)?>(nil)

    /// How many turns may wait to be written.
    static let backlogLimit = 10_000

    init(journal: Journal) {
        self.journal = journal
    }

    /// Called once, on the journal's thread, when recording stops.
    var onFailure: (@Sendable (String) -> Void)? {
        get { handler.withLock { $0 } }
        set { handler.withLock { $0 = newValue } }
    }

    /// Why recording stopped, once it has.
    var failure: String? { trouble.withLock { $0 } }

    /// Queues one turn, and a prune of what is older than `retention` when `pruning`.
    func write(
        _ events: [MonitorEvent], rows: [Journal.RowChange], source: String,
        pruning: (retention: TimeInterval, now: Date)?
    ) {
        guard failure == nil else { return }
        let admitted = backlog.withLock { waiting in
            guard waiting < Self.backlogLimit else { return false }
            waiting += 1
            return true
        }
        guard admitted else {
            fail("recording stopped: the journal fell \(Self.backlogLimit) turns behind")
            return
        }
        queue.async {
            defer { self.backlog.withLock { $0 -= 1 } }
            guard self.failure == nil else { return }
            do {
                try self.journal.append(events, rows: rows, source: source)
                if let pruning { try self.journal.prune(olderThan: pruning.retention, now: pruning.now) }
            } catch let error as Journal.Failure {
                self.fail("recording stopped: \(error.description)")
            } catch {
                self.fail("recording stopped: \(error)")
            }
        }
    }

    /// Waits until everything queued is written.
    func flush() {
        queue.sync {}
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
