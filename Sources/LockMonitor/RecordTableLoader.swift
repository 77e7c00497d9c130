import Foundation
import Synchronization

/// Builds a large directory's ``RecordTable`` on a thread of its own: it indexes and stats every
/// listed record while the first screen already shows the locks. The monitor takes the table on a
/// later tick (``take()``) and re-reads the records a watch event touched meanwhile.
public final class RecordTableLoader: Sendable {
    private let table = Mutex<RecordTable?>(nil)
    /// How many records are being loaded, give or take a subdirectory.
    public let count: Int

    /// Starts building the table of `listing`, statting each record.
    public init(_ listing: RecordListing) {
        count = listing.count
        Thread.detachNewThread { [self] in
            let built = listing.table(.read)
            table.withLock { $0 = built }
        }
    }

    /// The table once it is built, else nil; it is handed out once.
    public func take() -> RecordTable? {
        table.withLock { found in
            defer { found = nil }
            return found
        }
    }
}
