import Foundation

/// Every failure the record store reports. Each case names the key or path involved.
public enum RecordStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The key cannot name a file inside the records directory.
    case invalidKey(key: String, reason: String)
    /// The directory does not exist.
    case directoryMissing(path: String)
    /// The path exists but is not a directory.
    case notADirectory(path: String)
    /// The process may not read or write the path.
    case permissionDenied(path: String, operation: String)
    /// The file is larger than the store is willing to read.
    case fileTooLarge(path: String, size: Int, limit: Int)
    /// The path is a symbolic link, which the store never follows.
    case symbolicLink(path: String)
    /// The record bytes are not JSON.
    case invalidRecordJSON(key: String)
    /// Another holder has the lock, so the operation is refused.
    case lockedByAnotherHolder(key: String, holder: String)
    /// There is no lock to release.
    case noLock(key: String)
    /// The lock belongs to someone else.
    case notLockHolder(key: String, holder: String, actualHolder: String)
    /// The lock changed between being judged and being taken aside; it was put back.
    case lockChanged(key: String)
    /// A lock aside could not be restored because a new lock took its place.
    case restoreConflict(key: String, asidePath: String)
    /// Any other failing system call.
    case system(operation: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case let .invalidKey(key, reason):
            return "invalid key \(Self.quoted(key)): \(reason)"
        case let .directoryMissing(path):
            return "directory \(path) does not exist"
        case let .notADirectory(path):
            return "\(path) is not a directory"
        case let .permissionDenied(path, operation):
            return "permission denied: cannot \(operation) \(path)"
        case let .fileTooLarge(path, size, limit):
            return "\(path) is \(size) bytes, over the \(limit)-byte limit"
        case let .symbolicLink(path):
            return "\(path) is a symbolic link; locktop never follows links"
        case let .invalidRecordJSON(key):
            return "the result for key \(Self.quoted(key)) is not valid JSON"
        case let .lockedByAnotherHolder(key, holder):
            return "key \(Self.quoted(key)) is locked by another holder (\(holder))"
        case let .noLock(key):
            return "no lock for transaction with key \(Self.quoted(key))"
        case let .notLockHolder(key, holder, actualHolder):
            return "no lock held by \(holder) for transaction with key \(Self.quoted(key)); it is held by \(actualHolder)"
        case let .lockChanged(key):
            return "the lock for key \(Self.quoted(key)) changed while being removed; it was left in place"
        case let .restoreConflict(key, asidePath):
            return "the lock for key \(Self.quoted(key)) changed while being removed and a new lock took its place; the old one is kept at \(asidePath)"
        case let .system(operation, path, errno):
            return "\(operation) \(path): \(String(cString: strerror(errno)))"
        }
    }

    /// `text` in double quotes, with quotes and backslashes escaped and control characters made safe for a terminal.
    static func quoted(_ text: String) -> String {
        "\"" + TerminalText.escaped(text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")) + "\""
    }
}
