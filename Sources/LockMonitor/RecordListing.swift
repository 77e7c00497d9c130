import Foundation
import RecordStore
#if canImport(Glibc)
import Glibc
#endif

/// The names a scan found in the records directory, not yet in a ``RecordTable``. Listing a
/// million names takes a fraction of the time it takes to index and stat them, so the dashboard
/// shows the locks first and builds the table on another thread (``RecordTableLoader``).
public struct RecordListing: Sendable {
    /// How the table learns each record's size and time.
    public enum Statuses: Sendable {
        /// From the listing, which statted every name.
        case listed
        /// Left pending, for polling's budgeted slices: on a remote filesystem a `stat` is a round
        /// trip. Names that are not plain ASCII are statted at once (they are few, and slices skip
        /// escaped names).
        case pending
        /// Statted now, one name after another.
        case read
    }

    /// The records directory.
    public let directory: String
    let listing: DirectoryListing.Raw
    /// How many names are neither lock files nor locktop's own: the records, give or take a
    /// subdirectory.
    public let count: Int

    /// The table of the listed records: lock files, locktop's own names and directories left out.
    public func table(_ statuses: Statuses) -> RecordTable {
        var table = RecordTable(capacity: count)
        var descriptor: Int32 = -1
        if case .listed = statuses {} else { descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { if descriptor >= 0 { close(descriptor) } }
        // A directory that will not open is statted by full path, rather than every record dropped.
        let prefix = Array(directory.utf8) + [UInt8(ascii: "/")]
        var path: [UInt8] = []
        func status(_ index: Int, _ name: UnsafeBufferPointer<UInt8>) -> FileSystem.Status? {
            if case .listed = statuses { return listing.statuses[index] }
            if descriptor >= 0 { return DirectoryListing.status(of: name, in: descriptor) }
            path.removeAll(keepingCapacity: true)
            path += prefix
            path.append(contentsOf: name)
            path.append(0)
            return path.withUnsafeBufferPointer { DirectoryListing.status(of: UnsafeBufferPointer(rebasing: $0[..<($0.count - 1)]), in: AT_FDCWD) }
        }
        for index in 0..<listing.count {
            listing.withName(index) { raw in
                guard !DirectorySnapshot.isPrivate(raw), !DirectorySnapshot.isLockFileName(raw) else { return }
                if DirectoryListing.isPlain(raw) {
                    if case .pending = statuses {
                        table.set(key: raw, size: 0, modified: 0, isPending: true, isNew: true)
                    } else if let found = status(index, raw), !found.isDirectory {
                        table.set(key: raw, size: found.size, modified: found.modified, isSymbolicLink: found.isSymbolicLink, isNew: true)
                    }
                    return
                }
                let (key, escaped) = DirectoryListing.displayName(raw)
                guard let found = status(index, raw), !found.isDirectory else { return }
                table.set(RecordEntry(key: key, size: found.size, modified: Date(timeIntervalSince1970: found.modified),
                                      nameIsEscaped: escaped, isSymbolicLink: found.isSymbolicLink))
            }
        }
        return table
    }
}
