import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The race-free file operations behind every lock: read with a grace period, create with content
/// atomically, and remove only the file that was judged.
public enum LockFiles {
    /// The prefix of every temporary or set-aside file locktop makes. Such files are never records or locks.
    public static let privatePrefix = ".locktop-"
    /// The hidden folder in a shared locks directory where each host's agent publishes its report.
    public static let sharedFolderName = ".locktop"
    /// The prefix of a Prefect helper's heartbeat file: `.locktop-alive-HOST-PID-START-NONCE`.
    public static let heartbeatPrefix = ".locktop-alive-"
    /// The most bytes read from a lock file; anything longer is unreadable, judged (and broken with
    /// `--force`) by its status alone. Prefect's lock JSON is a few hundred bytes, the helper's under
    /// one KiB: 4 KiB keeps every real lock whole, and 10,000 hostile files cost at most 40 MiB.
    public static let maximumLockFileSize = 4 * 1024

    /// A fresh hidden name for a temporary or set-aside file: `.locktop-PID-R.kind`, with 64
    /// random bits as `R`, so that nobody who may write the directory can take it first.
    public static func temporaryName(kind: String) -> String {
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return "\(privatePrefix)\(ProcessIdentity.current.processID)-\(random).\(kind)"
    }

    /// How many fresh aside names a removal tries before it gives up: only an attacker who guessed
    /// 64 random bits again and again could take them all.
    static let asideAttempts = 8

    /// Reads the lock file `name` in `directory`. An empty or garbled file is `beingWritten` while
    /// its age is under `gracePeriod`, then `unreadable`.
    public static func observe(_ name: String, in directory: DirectoryHandle, now: Date, gracePeriod: TimeInterval)
        throws(RecordStoreError) -> LockObservation
    {
        let path = directory.path(of: name)
        guard let file = try directory.openForReading(name) else { return .absent }
        defer { try? file.close() }
        let status = try FileSystem.status(of: file.rawValue, path: path)
        guard status.isRegularFile else { return .unreadable(status: status, bytes: []) }
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readAll(
                file.rawValue, path: path, limit: maximumLockFileSize, expectedSize: status.size)
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

    /// The file name part of `path`.
    static func name(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return path }
        return String(path[path.utf8.index(after: slash)...])
    }

    /// Creates the lock file `name` in `directory` holding `bytes` and returns its status, or nil
    /// when a lock file exists. The file never exists empty: the bytes go to an unnamed `O_TMPFILE`
    /// (or, where the filesystem lacks it, a hidden temporary file) that is then linked into place.
    public static func create(_ name: String, in directory: DirectoryHandle, bytes: [UInt8]) throws(RecordStoreError)
        -> FileSystem.Status?
    {
        do {
            return try directory.createLinked(name, bytes: bytes)
        } catch .system(_, _, EOPNOTSUPP) {
            return try createThroughTemporaryName(name, in: directory, bytes: bytes)
        }
    }

    /// Creates the lock file at `path`, opening its directory for this one call: for fixtures and
    /// demos, which act once. Long-lived code keeps a ``DirectoryHandle`` and calls ``create(_:in:bytes:)``.
    public static func create(path: String, bytes: [UInt8]) throws(RecordStoreError) -> FileSystem.Status? {
        try create(name(of: path), in: DirectoryHandle.open(directory(of: path)), bytes: bytes)
    }

    /// Creates the lock file by writing a hidden temporary file and linking it into place.
    static func createThroughTemporaryName(_ name: String, in directory: DirectoryHandle, bytes: [UInt8])
        throws(RecordStoreError) -> FileSystem.Status?
    {
        let (temporary, status) = try writeTemporary(in: directory, bytes: bytes, sync: false)
        defer { _ = try? directory.removeName(temporary) }
        return try directory.link(temporary, to: name) ? status : nil
    }

    /// Writes `bytes` to a fresh temporary file in `directory`, and returns its name and status.
    private static func writeTemporary(in directory: DirectoryHandle, bytes: [UInt8], sync: Bool, mode: mode_t = 0o644)
        throws(RecordStoreError) -> (String, FileSystem.Status)
    {
        while true {
            let temporary = temporaryName(kind: "tmp")
            if let status = try directory.createExclusive(temporary, bytes: bytes, sync: sync, mode: mode) {
                return (temporary, status)
            }
        }
    }

    /// Writes `bytes` to `name` in `directory` by renaming a complete temporary file over it, so
    /// readers see the old content or the new, never a mix. With `sync`, the data is on disk before
    /// the rename; the file gets `mode`.
    @discardableResult
    public static func replace(
        _ name: String, in directory: DirectoryHandle, bytes: [UInt8], sync: Bool = false, mode: mode_t = 0o644
    ) throws(RecordStoreError) -> FileSystem.Status {
        let (temporary, status) = try writeTemporary(in: directory, bytes: bytes, sync: sync, mode: mode)
        do throws(RecordStoreError) {
            guard try directory.rename(temporary, to: name) == .renamed else {
                throw RecordStoreError.system(operation: "rename", path: directory.path(of: temporary), errno: ENOENT)
            }
        } catch {
            _ = try? directory.removeName(temporary)
            throw error
        }
        return status
    }

    /// Writes `bytes` to the file at `path`, opening its directory for this one call (see ``replace(_:in:bytes:sync:mode:)``).
    @discardableResult
    public static func replace(path: String, bytes: [UInt8], sync: Bool = false, mode: mode_t = 0o644)
        throws(RecordStoreError) -> FileSystem.Status
    {
        try replace(name(of: path), in: DirectoryHandle.open(directory(of: path)), bytes: bytes, sync: sync, mode: mode)
    }

    /// Rewrites the lock file `name` in `directory` with `bytes` if it is still the file described
    /// by `judged`, and returns the new file's status; nil when it is not (someone else's lock now,
    /// or gone), which is then left as it was.
    ///
    /// There is never a moment without a lock file: the new content is swapped in atomically
    /// (`renameat2` with `RENAME_EXCHANGE`), the file swapped out is checked, and swapped back if it
    /// was not the judged one. Where the filesystem cannot exchange, the file is checked and then
    /// replaced by a rename, which leaves a window of microseconds between check and rename.
    public static func rewrite(_ name: String, in directory: DirectoryHandle, judged: FileSystem.Status, bytes: [UInt8])
        throws(RecordStoreError) -> FileSystem.Status?
    {
        let (temporary, status) = try writeTemporary(in: directory, bytes: bytes, sync: false)
        defer { _ = try? directory.removeName(temporary) }
        switch try directory.rename(temporary, to: name, mode: .exchanging) {
        case .renamed:
            if let previous = try directory.status(of: temporary), previous.hasSameContent(as: judged) { return status }
            if try directory.rename(temporary, to: name, mode: .exchanging) != .renamed {
                _ = try directory.link(temporary, to: name)
            }
            return nil
        case .sourceMissing, .targetTaken:
            return nil
        case .unsupported:
            guard let current = try directory.status(of: name), current.hasSameContent(as: judged) else { return nil }
            return try directory.rename(temporary, to: name) == .renamed ? status : nil
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

    /// Removes the lock file `name` in `directory` only if it is still the file described by
    /// `status` (and, when given, still holds `bytes`).
    ///
    /// The file is renamed aside first, so no one else's lock is ever deleted: if what was taken
    /// aside differs from what was judged, it is linked back and ``RecordStoreError/lockChanged(key:)``
    /// is thrown. Once it is verified, `commit` runs with the aside's name (the audit append of a
    /// break); if `commit` throws, the lock is put back and the error rethrown. Returns false when
    /// the file was already gone.
    @discardableResult
    public static func remove(
        _ name: String, in directory: DirectoryHandle, judged status: FileSystem.Status, bytes: [UInt8]?, key: String,
        removal: Removal = .release,
        commit: (String) throws(RecordStoreError) -> Void = { _ in }
    ) throws(RecordStoreError) -> Bool {
        var aside = temporaryName(kind: removal.rawValue)
        // Never over something already there: a name taken is retried with another.
        var taken = try directory.rename(name, to: aside, mode: .withoutReplacing)
        var attempts = 1
        while taken == .targetTaken {
            guard attempts < asideAttempts else {
                throw FileSystem.error("take aside", directory.path(of: name), EEXIST)
            }
            attempts += 1
            aside = temporaryName(kind: removal.rawValue)
            taken = try directory.rename(name, to: aside, mode: .withoutReplacing)
        }
        // Where the filesystem cannot refuse to replace, a name nobody could guess is as good.
        if taken == .unsupported { taken = try directory.rename(name, to: aside) }
        guard taken == .renamed else { return false }
        var unchanged = false
        if let asideStatus = try directory.status(of: aside), asideStatus.hasSameContent(as: status) {
            unchanged = true
            if let bytes, let file = try directory.openForReading(aside) {
                defer { try? file.close() }
                unchanged =
                    (try? FileSystem.readAll(
                        file.rawValue, path: directory.path(of: aside), limit: maximumLockFileSize,
                        expectedSize: asideStatus.size)) == bytes
            }
        }
        if unchanged {
            do {
                try commit(aside)
            } catch {
                try putBack(aside, to: name, in: directory, key: key)
                throw error
            }
            try directory.removeName(aside)
            return true
        }
        try putBack(aside, to: name, in: directory, key: key)
        throw .lockChanged(key: key)
    }

    /// Links the file `aside` back to `name` and drops the aside name; throws
    /// ``RecordStoreError/restoreConflict(key:asidePath:)`` when a new lock took `name` meanwhile.
    private static func putBack(_ aside: String, to name: String, in directory: DirectoryHandle, key: String)
        throws(RecordStoreError)
    {
        guard try directory.link(aside, to: name) else {
            throw .restoreConflict(key: key, asidePath: directory.path(of: aside))
        }
        try directory.removeName(aside)
    }
}
