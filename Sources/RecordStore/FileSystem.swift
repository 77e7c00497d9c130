import CLocktopSystem
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Typed wrappers over the raw system calls the store uses.
///
/// The calls that can be interrupted retry on `EINTR` (``retrying(_:)``); a failure becomes a
/// ``RecordStoreError`` that names the path.
public enum FileSystem {
    /// The status of a file, as `lstat(2)` reports it.
    public struct Status: Equatable, Sendable {
        public var device: UInt64
        public var inode: UInt64
        public var size: Int
        public var mode: UInt32
        /// The owner's uid.
        public var owner: UInt32
        public var modified: TimeInterval
        public var modifiedNanoseconds: Int64

        /// Wraps a raw `stat` result.
        public init(_ raw: stat) {
            device = UInt64(raw.st_dev)
            inode = UInt64(raw.st_ino)
            size = Int(raw.st_size)
            mode = UInt32(raw.st_mode)
            owner = UInt32(raw.st_uid)
            modifiedNanoseconds = Int64(raw.st_mtim.tv_sec) * 1_000_000_000 + Int64(raw.st_mtim.tv_nsec)
            modified = TimeInterval(raw.st_mtim.tv_sec) + TimeInterval(raw.st_mtim.tv_nsec) / 1e9
        }

        public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
        public var isRegularFile: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
        public var isSymbolicLink: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFLNK) }

        /// Whether two statuses describe the same file with the same content:
        /// same inode, same size, same modification time to the nanosecond.
        public func hasSameContent(as other: Status) -> Bool {
            device == other.device && inode == other.inode && size == other.size
                && modifiedNanoseconds == other.modifiedNanoseconds
        }
    }

    /// The typed error for a failed `operation` on `path` with `errno` `code`.
    public static func error(_ operation: String, _ path: String, _ code: Int32) -> RecordStoreError {
        switch code {
        case EACCES, EPERM: return .permissionDenied(path: path, operation: operation)
        case ENOTDIR: return .notADirectory(path: path)
        case ELOOP: return .symbolicLink(path: path)
        default: return .system(operation: operation, path: path, errno: code)
        }
    }

    @discardableResult
    static func retrying(_ body: () -> Int32) -> (Int32, Int32) {
        while true {
            let result = body()
            if result == -1 && errno == EINTR { continue }
            return (result, result == -1 ? errno : 0)
        }
    }

    /// The status of `path` without following a final symbolic link, or nil when it does not exist.
    /// The corresponding C function is `lstat`.
    public static func status(_ path: String) throws(RecordStoreError) -> Status? {
        var raw = stat()
        let (result, code) = retrying { lstat(path, &raw) }
        if result == 0 { return Status(raw) }
        if code == ENOENT { return nil }
        throw error("stat", path, code)
    }

    /// The status of the entry named by the raw bytes `name` in `directory`, as `lstat(2)` reports
    /// it; nil when it does not exist. For names that are not text (invalid UTF-8), which no `String` path reaches.
    public static func status(in directory: String, rawName name: [UInt8]) throws(RecordStoreError) -> Status? {
        var raw = stat()
        let path = Array(directory.utf8) + [UInt8(ascii: "/")] + name + [0]
        let (result, code) = retrying {
            path.withUnsafeBufferPointer {
                lstat(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), &raw)
            }
        }
        if result == 0 { return Status(raw) }
        if code == ENOENT { return nil }
        throw error("stat", directory + "/" + TerminalText.escaped(bytes: name), code)
    }

    /// The modification and change times of `path` in nanoseconds, nil when it does not exist: what
    /// moves when a directory's names change. Asked of the filesystem itself, past the attribute
    /// caches of NFS and FUSE, so another host's change shows at the next poll. The corresponding C
    /// function is `statx` with `AT_STATX_FORCE_SYNC`.
    public static func changeStamp(_ path: String) -> (modified: Int64, changed: Int64)? {
        var modified: Int64 = 0
        var changed: Int64 = 0
        guard locktop_fresh_times(path, &modified, &changed) == 0 else { return nil }
        return (modified, changed)
    }

    /// Checks that `path` is an existing directory this user may list, following a symbolic link to one.
    public static func requireDirectory(_ path: String) throws(RecordStoreError) {
        var raw = stat()
        let (result, code) = retrying { stat(path, &raw) }
        if result != 0 {
            if code == ENOENT { throw .directoryMissing(path: path) }
            throw error("open directory", path, code)
        }
        guard Status(raw).isDirectory else { throw .notADirectory(path: path) }
        if access(path, R_OK | X_OK) != 0 { throw .permissionDenied(path: path, operation: "read directory") }
    }

    /// The device and inode of the directory `path` (following a symbolic link to it); nil when it is not there.
    public static func directoryKey(_ path: String) -> FileKey? {
        var raw = stat()
        guard stat(path, &raw) == 0, Status(raw).isDirectory else { return nil }
        return FileKey(Status(raw))
    }

    /// Whether `path` is there as a directory this user may list (``requireDirectory(_:)`` would pass).
    public static func isListableDirectory(_ path: String) -> Bool {
        (try? requireDirectory(path)) != nil
    }

    /// Creates `path` and its parents when missing, as Python's `mkdir(parents=True, exist_ok=True)` does.
    public static func createDirectory(_ path: String) throws(RecordStoreError) {
        var raw = stat()
        if stat(path, &raw) == 0 {
            guard Status(raw).isDirectory else { throw .notADirectory(path: path) }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path && parent != "/" { try createDirectory(parent) }
        let (result, code) = retrying { mkdir(path, 0o755) }
        if result != 0 && code != EEXIST { throw error("create directory", path, code) }
    }

    /// Opens an existing file for reading without following a final symbolic link.
    public static func openForReading(_ path: String) throws(RecordStoreError) -> Int32? {
        let (fd, code) = retrying { open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) }
        if fd >= 0 { return fd }
        if code == ENOENT { return nil }
        throw error("open", path, code)
    }

    /// Opens `path` (not following a final symbolic link), reads it whole, refusing more than
    /// `limit` bytes, and closes it; nil when it does not exist.
    public static func readFile(_ path: String, limit: Int) throws(RecordStoreError) -> [UInt8]? {
        guard let fd = try openForReading(path) else { return nil }
        defer { closeQuietly(fd) }
        return try readAll(fd, path: path, limit: limit)
    }

    /// Reads a whole open file, refusing more than `limit` bytes. `expectedSize`, from `fstat`,
    /// lets a file that has not grown be read with a single call.
    public static func readAll(_ fd: Int32, path: String, limit: Int, expectedSize: Int? = nil) throws(RecordStoreError)
        -> [UInt8]
    {
        var bytes = [UInt8]()
        var chunk = expectedSize.map { min(limit, $0) + 1 } ?? 4096
        while true {
            let start = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: chunk))
            let (count, code) = retrying {
                Int32(truncatingIfNeeded: bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + start, chunk) })
            }
            if count < 0 { throw error("read", path, code) }
            bytes.removeLast(chunk - Int(count))
            let finished = count == 0 || (expectedSize == Int(count) && start == 0 && Int(count) < chunk)
            if bytes.count > limit { throw .fileTooLarge(path: path, size: bytes.count, limit: limit) }
            if finished {
                return bytes.capacity > bytes.count + 64 ? Array(bytes[...]) : bytes
            }
            chunk = min(max(chunk * 2, 4096), 1 << 20)
        }
    }

    /// Writes all of `bytes` to an open file, continuing after short writes.
    static func writeAll(_ fd: Int32, bytes: [UInt8], path: String) throws(RecordStoreError) {
        var written = 0
        while written < bytes.count {
            let (count, code) = retrying {
                Int32(
                    truncatingIfNeeded: bytes.withUnsafeBytes {
                        write(fd, $0.baseAddress! + written, bytes.count - written)
                    })
            }
            if count < 0 { throw error("write", path, code) }
            written += Int(count)
        }
    }

    /// The status of an open file. The corresponding C function is `fstat`.
    public static func status(of fd: Int32, path: String) throws(RecordStoreError) -> Status {
        var raw = stat()
        let (result, code) = retrying { fstat(fd, &raw) }
        if result != 0 { throw error("stat", path, code) }
        return Status(raw)
    }

    /// Creates a new file holding `bytes` and returns its status, or nil when the name is taken.
    /// With `sync`, the data reaches the disk before the call returns.
    public static func createExclusive(_ path: String, bytes: [UInt8], sync: Bool = false, mode: mode_t = 0o644)
        throws(RecordStoreError) -> Status?
    {
        let (fd, code) = retrying { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode) }
        if fd < 0 {
            if code == EEXIST { return nil }
            throw error("create", path, code)
        }
        defer { close(fd) }
        do {
            try writeAll(fd, bytes: bytes, path: path)
        } catch {
            unlink(path)
            throw error
        }
        if sync {
            let (result, syncCode) = retrying { fsync(fd) }
            if result != 0 {
                unlink(path)
                throw error("fsync", path, syncCode)
            }
        }
        return try status(of: fd, path: path)
    }

    /// Whether `linkat(AT_EMPTY_PATH)` works here; it needs CAP_DAC_READ_SEARCH, so most users
    /// go through `/proc/self/fd` instead, which costs a path lookup more.
    private static let emptyPathLinkWorks = Atomic<Bool>(true)
    /// `AT_EMPTY_PATH`, which Glibc's module does not import.
    private static let emptyPathFlag: Int32 = 0x1000

    /// `O_TMPFILE`, which Glibc's module does not import: an unnamed file in a directory.
    static let temporaryFileFlag: Int32 = 0o20_000_000 | O_DIRECTORY

    /// Creates an unnamed file in `directory` holding `bytes`, then links it in as `path`: the name
    /// appears with its content complete, and no temporary name is ever visible. Returns the status,
    /// nil when `path` exists, or throws `.system(errno: EOPNOTSUPP)` where the filesystem lacks `O_TMPFILE`.
    /// The corresponding C functions are `open(O_TMPFILE)` and `linkat`.
    public static func createLinked(_ path: String, directory: String, bytes: [UInt8]) throws(RecordStoreError)
        -> Status?
    {
        let (fd, code) = retrying { open(directory, temporaryFileFlag | O_WRONLY | O_CLOEXEC, 0o644) }
        if fd < 0 {
            switch code {
            case EOPNOTSUPP, EISDIR, EINVAL: throw .system(operation: "create", path: directory, errno: EOPNOTSUPP)
            default: throw error("create", path, code)
            }
        }
        defer { close(fd) }
        try writeAll(fd, bytes: bytes, path: path)
        let fileStatus = try status(of: fd, path: path)
        var (result, linkCode) = (Int32(-1), ENOENT)
        if emptyPathLinkWorks.load(ordering: .relaxed) {
            (result, linkCode) = retrying { linkat(fd, "", AT_FDCWD, path, emptyPathFlag) }
            if result != 0 && (linkCode == ENOENT || linkCode == EPERM) && access(path, F_OK) != 0 {
                emptyPathLinkWorks.store(false, ordering: .relaxed)
            }
        }
        if result != 0 && linkCode != EEXIST {
            (result, linkCode) = retrying { linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) }
        }
        if result == 0 { return fileStatus }
        if linkCode == EEXIST { return nil }
        if linkCode == ENOENT && access("/proc/self/fd", F_OK) != 0 {
            throw .system(operation: "create", path: directory, errno: EOPNOTSUPP)
        }
        throw error("link", path, linkCode)
    }

    /// Makes `target` a new name for `source`, failing with false when `target` exists.
    /// The corresponding C function is `link`.
    public static func link(_ source: String, to target: String) throws(RecordStoreError) -> Bool {
        let (result, code) = retrying { Glibc.link(source, target) }
        if result == 0 { return true }
        if code == EEXIST { return false }
        throw error("link", target, code)
    }

    /// Renames `source` to `target`, returning false when `source` no longer exists.
    /// The corresponding C function is `rename`.
    public static func rename(_ source: String, to target: String) throws(RecordStoreError) -> Bool {
        let (result, code) = retrying { Glibc.rename(source, target) }
        if result == 0 { return true }
        if code == ENOENT { return false }
        throw error("rename", source, code)
    }

    /// Renames `source` to `target` only when no `target` exists: true when renamed, false when
    /// `source` is gone, nil when `target` is taken (a file, a directory: anything). Where the
    /// filesystem cannot refuse to replace, a name nobody could guess is as good, and a plain rename is used.
    /// The corresponding C function is `renameat2` with `RENAME_NOREPLACE`.
    public static func renameWithoutReplacing(_ source: String, to target: String) throws(RecordStoreError) -> Bool? {
        let (result, code) = retrying { locktop_rename_noreplace(source, target) }
        if result == 0 { return true }
        switch code {
        case ENOENT: return false
        case EEXIST, ENOTEMPTY, EISDIR, ENOTDIR: return nil
        case EINVAL, ENOSYS, EOPNOTSUPP: return try rename(source, to: target)
        default: throw error("rename", source, code)
        }
    }

    /// Removes a name, returning false when it was already gone. The corresponding C function is `unlink`.
    @discardableResult
    public static func removeName(_ path: String) throws(RecordStoreError) -> Bool {
        let (result, code) = retrying { unlink(path) }
        if result == 0 { return true }
        if code == ENOENT { return false }
        throw error("remove", path, code)
    }

    /// Closes a descriptor, ignoring errors as there is nothing left to do with it.
    public static func closeQuietly(_ fd: Int32) {
        close(fd)
    }
}
