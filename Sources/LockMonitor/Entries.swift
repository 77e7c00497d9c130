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
    public init(key: String, size: Int, modified: Date, nameIsEscaped: Bool = false, isSymbolicLink: Bool = false, isPending: Bool = false) {
        self.key = key
        self.size = size
        self.modified = modified
        self.nameIsEscaped = nameIsEscaped
        self.isSymbolicLink = isSymbolicLink
        self.isPending = isPending
    }
}

/// A lock file as last read.
public struct LockEntry: Equatable, Sendable {
    /// The file name, for example `task.lock`.
    public var name: String
    /// The file path.
    public var path: String
    /// The file status when read.
    public var status: FileSystem.Status
    /// The raw bytes (empty for links and oversized files).
    public var bytes: [UInt8]
    /// The parsed content, nil when empty or garbled.
    public var content: LockFileContent?
    /// Whether the lock file is a symbolic link; it is never followed.
    public var isSymbolicLink: Bool
    /// Whether the name is not UTF-8 and was escaped.
    public var nameIsEscaped: Bool
    /// Why the file could not be read at all, such as a permission denied; nil when it was read.
    public var readError: String?

    /// Creates a lock entry.
    public init(name: String, path: String, status: FileSystem.Status, bytes: [UInt8], content: LockFileContent?,
                isSymbolicLink: Bool = false, nameIsEscaped: Bool = false, readError: String? = nil) {
        self.name = name
        self.path = path
        self.status = status
        self.bytes = bytes
        self.content = content
        self.isSymbolicLink = isSymbolicLink
        self.nameIsEscaped = nameIsEscaped
        self.readError = readError
    }

    /// The key stem: the file name without `.lock`.
    public var key: String { RecordKey.lockStem(ofFileName: name) ?? name }

    /// The holder, parsed, when the content is readable.
    public var holder: LockHolder? { content.map { LockHolder($0.holder) } }

    /// When the lock was taken: the file's modification time.
    public var acquired: Date { Date(timeIntervalSince1970: status.modified) }

    /// The observation this entry stands for, as the core's safe break expects it.
    public var observation: LockObservation {
        if let content {
            return .readable(LockSnapshot(path: path, status: status, bytes: bytes, content: content))
        }
        return .unreadable(status: status, bytes: bytes)
    }

    /// Reads the lock file `name` at `path`: never follows a link, never reads more than the core's limit.
    /// `knownStatus`, from a directory listing, saves a `stat`. Returns nil when the file is gone.
    public static func read(name: String, path: String, nameIsEscaped: Bool = false, knownStatus: FileSystem.Status? = nil) -> LockEntry? {
        guard let status = knownStatus ?? (try? FileSystem.status(path)) else { return nil }
        if nameIsEscaped {
            return LockEntry(name: name, path: path, status: status, bytes: [], content: nil, nameIsEscaped: true)
        }
        if status.isSymbolicLink || !status.isRegularFile {
            return LockEntry(name: name, path: path, status: status, bytes: [], content: nil, isSymbolicLink: status.isSymbolicLink)
        }
        let observation: LockObservation
        do {
            observation = try LockFiles.observe(path: path, now: Date(), gracePeriod: 0)
        } catch .permissionDenied {
            return LockEntry(name: name, path: path, status: status, bytes: [], content: nil, readError: "permission denied")
        } catch {
            return LockEntry(name: name, path: path, status: status, bytes: [], content: nil, readError: "\(error)")
        }
        switch observation {
        case .absent:
            return nil
        case let .readable(snapshot):
            return LockEntry(name: name, path: path, status: snapshot.status, bytes: snapshot.bytes, content: snapshot.content)
        case let .beingWritten(status, bytes), let .unreadable(status, bytes):
            return LockEntry(name: name, path: path, status: status, bytes: bytes, content: nil)
        }
    }
}
