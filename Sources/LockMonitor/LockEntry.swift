import Foundation
import RecordStore

/// A lock file as last read: its name and path, and the core's ``LockObservation`` of it, which a
/// safe break takes as the judged state.
public struct LockEntry: Equatable, Sendable {
    /// The file name, for example `task.lock`.
    public var name: String
    /// The file path.
    public var path: String
    /// What reading the file found: readable, or unreadable (empty, garbled, a link, not read at
    /// all). Never `absent`: a lock file that is gone has no entry.
    public let observation: LockObservation
    /// Whether the lock file is a symbolic link; it is never followed.
    public var isSymbolicLink: Bool
    /// Whether the name is not UTF-8 and was escaped.
    public var nameIsEscaped: Bool
    /// Why the file could not be read at all, such as a permission denied; nil when it was read.
    public var readError: String?

    /// Creates an entry from an observation of the file; `observation` must not be `absent`.
    public init(
        name: String, path: String, observation: LockObservation, isSymbolicLink: Bool = false,
        nameIsEscaped: Bool = false, readError: String? = nil
    ) {
        precondition(observation != .absent, "a lock entry stands for a file that exists")
        self.name = name
        self.path = path
        self.observation = observation
        self.isSymbolicLink = isSymbolicLink
        self.nameIsEscaped = nameIsEscaped
        self.readError = readError
    }

    /// Creates an entry from its parts: readable when `content` is given, else unreadable.
    public init(
        name: String, path: String, status: FileSystem.Status, bytes: [UInt8], content: LockFileContent?,
        isSymbolicLink: Bool = false, nameIsEscaped: Bool = false, readError: String? = nil
    ) {
        let observation: LockObservation =
            content.map { .readable(LockSnapshot(path: path, status: status, bytes: bytes, content: $0)) }
            ?? .unreadable(status: status, bytes: bytes)
        self.init(
            name: name, path: path, observation: observation, isSymbolicLink: isSymbolicLink,
            nameIsEscaped: nameIsEscaped, readError: readError)
    }

    /// The file status when read.
    public var status: FileSystem.Status {
        guard let status = observation.status else { preconditionFailure("a lock entry stands for a file that exists") }
        return status
    }

    /// The raw bytes (empty for links and oversized files).
    public var bytes: [UInt8] { observation.bytes ?? [] }

    /// The parsed content, nil when empty or garbled.
    public var content: LockFileContent? {
        if case .readable(let snapshot) = observation { return snapshot.content }
        return nil
    }

    /// The key stem: the file name without `.lock`.
    public var key: String { RecordKey.shownKey(ofLockName: name) }

    /// The holder, parsed, when the content is readable.
    public var holder: LockHolder? { content.map { LockHolder($0.holder) } }

    /// When the lock was taken: the file's modification time.
    public var acquired: Date { Date(timeIntervalSince1970: status.modified) }

    /// Reads the lock file `name` in `directory`: never follows a link, never reads more than the
    /// core's limit. `knownStatus`, from a directory listing, saves a `stat`. Returns nil when the file is gone.
    public static func read(
        _ name: String, in directory: DirectoryHandle, nameIsEscaped: Bool = false,
        knownStatus: FileSystem.Status? = nil
    ) -> LockEntry? {
        let path = directory.path(of: name)
        let found = knownStatus ?? (nameIsEscaped ? nil : (try? directory.status(of: name)) ?? nil)
        guard let status = found else { return nil }
        let unread = LockObservation.unreadable(status: status, bytes: [])
        if nameIsEscaped {
            return LockEntry(name: name, path: path, observation: unread, nameIsEscaped: true)
        }
        if status.isSymbolicLink || !status.isRegularFile {
            return LockEntry(name: name, path: path, observation: unread, isSymbolicLink: status.isSymbolicLink)
        }
        let observation: LockObservation
        do {
            // A grace period of 0: the classifier, not the read, decides whether an empty file is young.
            observation = try LockFiles.observe(name, in: directory, now: Date(), gracePeriod: 0)
        } catch .permissionDenied {
            return LockEntry(name: name, path: path, observation: unread, readError: "permission denied")
        } catch {
            return LockEntry(name: name, path: path, observation: unread, readError: "\(error)")
        }
        return observation == .absent ? nil : LockEntry(name: name, path: path, observation: observation)
    }
}
