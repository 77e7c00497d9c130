import Foundation

/// A lock file as it was read once: its path, status, bytes and parsed content.
public struct LockSnapshot: Equatable, Sendable {
    /// The lock file path.
    public let path: String
    /// The file status when it was read, used to check later that it has not changed.
    public let status: FileSystem.Status
    /// The raw bytes.
    public let bytes: [UInt8]
    /// The parsed content.
    public let content: LockFileContent

    /// Creates a snapshot.
    public init(path: String, status: FileSystem.Status, bytes: [UInt8], content: LockFileContent) {
        self.path = path
        self.status = status
        self.bytes = bytes
        self.content = content
    }
}

/// What reading a lock file found.
public enum LockObservation: Equatable, Sendable {
    /// There is no lock file.
    case absent
    /// A lock file that parses.
    case readable(LockSnapshot)
    /// An empty or garbled lock file younger than the grace period: a writer like Prefect,
    /// which creates the file and fills it afterwards, is probably still writing it.
    case beingWritten(status: FileSystem.Status, bytes: [UInt8])
    /// An empty or garbled lock file older than the grace period.
    case unreadable(status: FileSystem.Status, bytes: [UInt8])

    /// The file status, when a lock file exists.
    public var status: FileSystem.Status? {
        switch self {
        case .absent: return nil
        case .readable(let snapshot): return snapshot.status
        case .beingWritten(let status, _), .unreadable(let status, _): return status
        }
    }

    /// The raw bytes, when a lock file exists.
    public var bytes: [UInt8]? {
        switch self {
        case .absent: return nil
        case .readable(let snapshot): return snapshot.bytes
        case .beingWritten(_, let bytes), .unreadable(_, let bytes): return bytes
        }
    }
}
