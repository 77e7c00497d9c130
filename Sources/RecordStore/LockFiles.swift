import CLocktopSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The race-free file operations behind every lock: read with a grace period, create with content
/// atomically, and remove only the file that was judged.
public enum LockFiles {
    /// The prefix of every temporary or set-aside file locktop makes. Such files are never records or locks.
    public static let privatePrefix = ".locktop-"
    /// The most bytes read from a lock file; anything longer is unreadable, judged (and broken with
    /// `--force`) by its status alone. Prefect's lock JSON is a few hundred bytes, the helper's under
    /// one KiB: 4 KiB keeps every real lock whole, and 10,000 hostile files cost at most 40 MiB.
    public static let maximumLockFileSize = 4 * 1024

    /// A fresh hidden name in `directory` for a temporary or set-aside file: `.locktop-PID-R.kind`,
    /// with 64 random bits as `R`, so that nobody who may write the directory can take it first.
    static func temporaryPath(in directory: String, kind: String) -> String {
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return "\(directory)/\(privatePrefix)\(ProcessIdentity.current.processID)-\(random).\(kind)"
    }

    /// How many fresh aside names a removal tries before it gives up: only an attacker who guessed
    /// 64 random bits again and again could take them all.
    static let asideAttempts = 8

    /// Reads the lock file at `path`. An empty or garbled file is `beingWritten` while its age
    /// is under `gracePeriod`, then `unreadable`.
    public static func observe(path: String, now: Date, gracePeriod: TimeInterval) throws(RecordStoreError)
        -> LockObservation
    {
        guard let fd = try FileSystem.openForReading(path) else { return .absent }
        defer { FileSystem.closeQuietly(fd) }
        let status = try FileSystem.status(of: fd, path: path)
        guard status.isRegularFile else { return .unreadable(status: status, bytes: []) }
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readAll(fd, path: path, limit: maximumLockFileSize, expectedSize: status.size)
        } catch .fileTooLarge {
            return .unreadable(status: status, bytes: [])
        }
        if let content = LockFileContent(parsing: bytes) {
            return .readable(LockSnapshot(path: path, status: status, bytes: bytes, content: content))
        }
        let age = now.timeIntervalSince1970 - status.modified
        return age < gracePeriod
            ? .beingWritten(status: status, bytes: bytes) : .unreadable(status: status, bytes: bytes)
    }

    /// The directory part of `path`.
    static func directory(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        return slash == path.utf8.startIndex ? "/" : String(path[..<slash])
    }

    /// Creates the lock file at `path` holding `bytes` and returns its status, or nil when a lock
    /// file exists. The file never exists empty: the bytes go to an unnamed `O_TMPFILE` (or, where the
    /// filesystem lacks it, a hidden temporary file) that is then linked into place.
    public static func create(path: String, bytes: [UInt8]) throws(RecordStoreError) -> FileSystem.Status? {
        do {
            return try FileSystem.createLinked(path, directory: directory(of: path), bytes: bytes)
        } catch .system(_, _, EOPNOTSUPP) {
            return try createThroughTemporaryName(path: path, bytes: bytes)
        }
    }

    /// Creates the lock file by writing a hidden temporary file and linking it into place.
    static func createThroughTemporaryName(path: String, bytes: [UInt8]) throws(RecordStoreError) -> FileSystem.Status?
    {
        let (temporary, status) = try writeTemporary(nextTo: path, bytes: bytes, sync: false)
        defer { _ = try? FileSystem.removeName(temporary) }
        return try FileSystem.link(temporary, to: path) ? status : nil
    }

    /// Writes `bytes` to a fresh temporary file in the directory of `path`.
    private static func writeTemporary(nextTo path: String, bytes: [UInt8], sync: Bool, mode: mode_t = 0o644)
        throws(RecordStoreError) -> (
            String, FileSystem.Status
        )
    {
        let directory = directory(of: path)
        while true {
            let temporary = temporaryPath(in: directory, kind: "tmp")
            if let status = try FileSystem.createExclusive(temporary, bytes: bytes, sync: sync, mode: mode) {
                return (temporary, status)
            }
        }
    }

    /// Writes `bytes` to `path` by renaming a complete temporary file over it, so readers see
    /// the old content or the new, never a mix. With `sync`, the data is on disk before the rename;
    /// the file gets `mode`.
    @discardableResult
    public static func replace(path: String, bytes: [UInt8], sync: Bool = false, mode: mode_t = 0o644)
        throws(RecordStoreError) -> FileSystem.Status
    {
        let (temporary, status) = try writeTemporary(nextTo: path, bytes: bytes, sync: sync, mode: mode)
        do throws(RecordStoreError) {
            guard try FileSystem.rename(temporary, to: path) else {
                throw RecordStoreError.system(operation: "rename", path: temporary, errno: ENOENT)
            }
        } catch {
            _ = try? FileSystem.removeName(temporary)
            throw error
        }
        return status
    }

    /// Rewrites the lock file at `path` with `bytes` if it is still the file described by `judged`,
    /// and returns the new file's status; nil when it is not (someone else's lock now, or gone),
    /// which is then left as it was.
    ///
    /// There is never a moment without a lock file: the new content is swapped in atomically
    /// (`renameat2` with `RENAME_EXCHANGE`), the file swapped out is checked, and swapped back if it
    /// was not the judged one. Where the filesystem cannot exchange, the file is checked and then
    /// replaced by a rename, which leaves a window of microseconds between check and rename.
    public static func rewrite(path: String, judged: FileSystem.Status, bytes: [UInt8]) throws(RecordStoreError)
        -> FileSystem.Status?
    {
        let (temporary, status) = try writeTemporary(nextTo: path, bytes: bytes, sync: false)
        defer { _ = try? FileSystem.removeName(temporary) }
        if locktop_rename_exchange(temporary, path) == 0 {
            if let previous = try FileSystem.status(temporary), previous.hasSameContent(as: judged) { return status }
            if locktop_rename_exchange(temporary, path) != 0 { _ = try FileSystem.link(temporary, to: path) }
            return nil
        }
        let code = errno
        switch code {
        case ENOENT:
            return nil
        case EINVAL, ENOSYS, EOPNOTSUPP:
            guard let current = try FileSystem.status(path), current.hasSameContent(as: judged) else { return nil }
            return try FileSystem.rename(temporary, to: path) ? status : nil
        default:
            throw FileSystem.error("exchange", path, code)
        }
    }

    /// Why a lock file is taken aside. The kind ends the aside's name (`.locktop-PID-R.break`, R random), so a
    /// watcher that sees a lock renamed aside knows who removes it and why.
    public enum Removal: String, Sendable, CaseIterable {
        /// The holder releases its own lock.
        case release
        /// An acquirer clears an expired lock.
        case expired
        /// An operator breaks the lock; the audit log records it.
        case operatorBreak = "break"

        /// The removal and the pid of the process doing it, read from an aside name.
        public static func parse(asideName name: String) -> (removal: Removal, processID: Int32)? {
            guard name.hasPrefix(privatePrefix), let dot = name.lastIndex(of: "."),
                let removal = Removal(rawValue: String(name[name.index(after: dot)...]))
            else { return nil }
            let middle = name[name.index(name.startIndex, offsetBy: privatePrefix.count)..<dot]
            guard let dash = middle.firstIndex(of: "-"), let pid = Int32(middle[..<dash]) else { return nil }
            return (removal, pid)
        }
    }

    /// Removes the lock file at `path` only if it is still the file described by `status`
    /// (and, when given, still holds `bytes`).
    ///
    /// The file is renamed aside first, so no one else's lock is ever deleted: if what was taken
    /// aside differs from what was judged, it is linked back and ``RecordStoreError/lockChanged(key:)``
    /// is thrown. Once it is verified, `commit` runs with the aside's path (the audit append of a
    /// break); if `commit` throws, the lock is put back and the error rethrown. Returns false when
    /// the file was already gone.
    @discardableResult
    public static func remove(
        path: String, judged status: FileSystem.Status, bytes: [UInt8]?, key: String,
        removal: Removal = .release,
        commit: (String) throws(RecordStoreError) -> Void = { _ in }
    ) throws(RecordStoreError) -> Bool {
        let directory = directory(of: path)
        var aside = temporaryPath(in: directory, kind: removal.rawValue)
        // Never over something already there: a name taken is retried with another.
        var taken = try FileSystem.renameWithoutReplacing(path, to: aside)
        var attempts = 1
        while taken == nil {
            guard attempts < asideAttempts else { throw FileSystem.error("take aside", path, EEXIST) }
            attempts += 1
            aside = temporaryPath(in: directory, kind: removal.rawValue)
            taken = try FileSystem.renameWithoutReplacing(path, to: aside)
        }
        guard taken == true else { return false }
        var unchanged = false
        if let asideStatus = try FileSystem.status(aside), asideStatus.hasSameContent(as: status) {
            unchanged = true
            if let bytes, let fd = try FileSystem.openForReading(aside) {
                defer { FileSystem.closeQuietly(fd) }
                unchanged =
                    (try? FileSystem.readAll(
                        fd, path: aside, limit: maximumLockFileSize,
                        expectedSize: asideStatus.size)) == bytes
            }
        }
        if unchanged {
            do {
                try commit(aside)
            } catch {
                try putBack(aside, to: path, key: key)
                throw error
            }
            try FileSystem.removeName(aside)
            return true
        }
        try putBack(aside, to: path, key: key)
        throw .lockChanged(key: key)
    }

    /// Links the file at `aside` back to `path` and drops the aside name; throws
    /// ``RecordStoreError/restoreConflict(key:asidePath:)`` when a new lock took `path` meanwhile.
    private static func putBack(_ aside: String, to path: String, key: String) throws(RecordStoreError) {
        guard try FileSystem.link(aside, to: path) else { throw .restoreConflict(key: key, asidePath: aside) }
        try FileSystem.removeName(aside)
    }
}
