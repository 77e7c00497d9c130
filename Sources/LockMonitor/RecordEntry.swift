import Foundation
import RecordStore

/// A record file: a key with its size and modification time.
public struct RecordEntry: Equatable, Sendable {
    /// The record key, which is the file name (escaped when not UTF-8).
    public var key: String
    /// The file size in bytes.
    public var size: Int
    /// When the record was last written.
    public var modified: Date
    /// Whether the name is not UTF-8 and was escaped.
    public var nameIsEscaped: Bool
    /// Whether the record is a symbolic link, which locktop never follows.
    public var isSymbolicLink: Bool
    /// Whether its size and time are still being read: a large directory's records are listed at
    /// once and statted behind the first screen.
    public var isPending: Bool

    /// Creates a record entry.
    public init(
        key: String, size: Int, modified: Date, nameIsEscaped: Bool = false, isSymbolicLink: Bool = false,
        isPending: Bool = false
    ) {
        self.key = key
        self.size = size
        self.modified = modified
        self.nameIsEscaped = nameIsEscaped
        self.isSymbolicLink = isSymbolicLink
        self.isPending = isPending
    }
}
