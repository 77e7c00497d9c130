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
    /// A name that looks like a lock file is something else, a directory say: never taken aside.
    case notALockFile(path: String)
    /// locktop's state directory, or a file in it, is not the operator's alone: another uid owns it or may write it.
    case untrustedState(path: String, reason: String)
    /// The directory's path leads elsewhere than the directory opened: nothing is done in the new one.
    case directoryReplaced(DirectoryReplacement)

    public var description: String {
        switch self {
        case .invalidKey(let key, let reason):
            return "invalid key \(Self.quoted(key)): \(reason)"
        case .directoryMissing(let path):
            return "directory \(path) does not exist"
        case .notADirectory(let path):
            return "\(path) is not a directory"
        case .permissionDenied(let path, let operation):
            return "permission denied: cannot \(operation) \(path)"
        case .fileTooLarge(let path, let size, let limit):
            return "\(path) is \(size) bytes, over the \(limit)-byte limit"
        case .symbolicLink(let path):
            return "\(path) is a symbolic link; locktop never follows links"
        case .invalidRecordJSON(let key):
            return "the result for key \(Self.quoted(key)) is not valid JSON"
        case .lockedByAnotherHolder(let key, let holder):
            return "key \(Self.quoted(key)) is locked by another holder (\(holder))"
        case .noLock(let key):
            return "no lock for transaction with key \(Self.quoted(key))"
        case .notLockHolder(let key, let holder, let actualHolder):
            return
                "no lock held by \(holder) for transaction with key \(Self.quoted(key)); it is held by \(actualHolder)"
        case .lockChanged(let key):
            return "the lock for key \(Self.quoted(key)) changed while being removed; it was left in place"
        case .restoreConflict(let key, let asidePath):
            return
                "the lock for key \(Self.quoted(key)) changed while being removed and a new lock took its place; the old one is kept at \(asidePath)"
        case .notALockFile(let path):
            return "\(TerminalText.escaped(path)) is not a lock file (not a regular file or a link); it is left alone"
        case .untrustedState(let path, let reason):
            return
                "refusing the state at \(TerminalText.escaped(path)): \(reason); it holds the audit log and other users' command lines"
        case .directoryReplaced(let replacement):
            return "\(replacement); locktop does not act in it until it is started again"
        case .system(let operation, let path, let errno):
            return "\(operation) \(path): \(String(cString: strerror(errno)))"
        }
    }

    /// `text` in double quotes, with quotes and backslashes escaped and control characters made safe for a terminal.
    static func quoted(_ text: String) -> String {
        "\""
            + TerminalText.escaped(
                text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")) + "\""
    }
}
