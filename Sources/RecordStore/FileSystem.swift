import CLocktopSystem
import Foundation
import Synchronization
import SystemPackage

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

    /// Runs the system call `body` again while it fails with `EINTR`: its result, or the error it set.
    public static func call(_ body: () -> Int32) -> Result<Int32, Errno> {
        let (result, code) = retrying(body)
        return result == -1 ? .failure(Errno(rawValue: code)) : .success(result)
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

    /// `O_TMPFILE`, which Glibc's module does not import: an unnamed file in a directory.
    static let temporaryFileFlag: Int32 = 0o20_000_000 | O_DIRECTORY

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
