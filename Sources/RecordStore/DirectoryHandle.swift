import CLocktopSystem
import Foundation
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A directory opened once, without following a link, by which every later operation inside it is made.
///
/// Each operation names one entry of the directory and goes through an `*at` system call relative
/// to this handle (`openat`, `fstatat`, `renameat2`, `linkat`, `unlinkat`). A directory renamed,
/// replaced or swapped for a symbolic link after it was opened cannot redirect them: they reach the
/// directory that was opened, or fail. ``replacement()`` says when the path no longer leads to it.
public final class DirectoryHandle: Sendable, CustomStringConvertible {
    /// The path the directory was opened by: for messages and audit lines, never for system calls inside it.
    public let path: String
    /// The descriptor, opened `O_PATH | O_DIRECTORY | O_NOFOLLOW`: it can name the directory to the
    /// `*at` calls and to inotify and fanotify, and can read nothing by itself.
    public let descriptor: FileDescriptor
    /// The directory's device and inode when it was opened.
    public let key: FileKey

    /// `O_PATH`, which Glibc's module does not import.
    static let pathOnly: Int32 = 0o10_000_000
    /// `AT_EMPTY_PATH`, which Glibc's module does not import: the call acts on the descriptor itself.
    static let emptyPath: Int32 = 0x1000

    /// Opens the directory at `path` once. A final symbolic link is refused (``RecordStoreError/symbolicLink(path:)``),
    /// as are a missing directory (``RecordStoreError/directoryMissing(path:)``) and anything else.
    public static func open(_ path: String) throws(RecordStoreError) -> DirectoryHandle {
        let options: FileDescriptor.OpenOptions = [.directory, .noFollow, .closeOnExec]
        let result = FileSystem.call { Glibc.open(path, options.rawValue | pathOnly) }
        let raw: Int32
        switch result {
        case .success(let value): raw = value
        case .failure(.noSuchFileOrDirectory): throw .directoryMissing(path: path)
        case .failure(.notDirectory):
            // O_NOFOLLOW with O_PATH opens a final link itself, and O_DIRECTORY then refuses it.
            if (try? FileSystem.status(path))??.isSymbolicLink == true { throw .symbolicLink(path: path) }
            throw .notADirectory(path: path)
        case .failure(let code): throw FileSystem.error("open directory", path, code.rawValue)
        }
        let descriptor = FileDescriptor(rawValue: raw)
        var info = stat()
        guard fstat(raw, &info) == 0 else {
            let code = errno
            try? descriptor.close()
            throw FileSystem.error("stat", path, code)
        }
        return DirectoryHandle(path: path, descriptor: descriptor, key: FileKey(FileSystem.Status(info)))
    }

    private init(path: String, descriptor: FileDescriptor, key: FileKey) {
        self.path = path
        self.descriptor = descriptor
        self.key = key
    }

    deinit { try? descriptor.close() }

    public var description: String { path }

    /// The path of entry `name`, for messages: `path/name`.
    public func path(of name: String) -> String {
        path == "/" ? "/\(name)" : "\(path)/\(name)"
    }

    /// A path that reaches this very directory through its descriptor, for the interfaces that take
    /// only paths (`inotify_add_watch`): `/proc/self/fd/N`.
    public var descriptorPath: String { "/proc/self/fd/\(descriptor.rawValue)" }

    /// What is at ``path`` now when it is no longer the directory opened: nil while it still is.
    /// A parent renamed or swapped shows here too, since the path is looked up from the root.
    public func replacement() -> DirectoryReplacement? {
        var info = stat()
        if case .failure = FileSystem.call({ lstat(path, &info) }) {
            return DirectoryReplacement(path: path, old: key, new: nil, isSymbolicLink: false)
        }
        let status = FileSystem.Status(info)
        if FileKey(status) == key && status.isDirectory { return nil }
        return DirectoryReplacement(path: path, old: key, new: FileKey(status), isSymbolicLink: status.isSymbolicLink)
    }

    // MARK: Operations inside the directory

    /// Runs `body` with `name` as a C string after checking it names one entry of this directory.
    private func withEntry<Result>(
        _ name: some Collection<UInt8>, _ body: (UnsafePointer<CChar>) -> Result
    ) throws(RecordStoreError) -> Result {
        guard DirectoryHandle.isEntryName(name) else {
            throw .system(operation: "name", path: path(of: TerminalText.escaped(bytes: Array(name))), errno: EINVAL)
        }
        let bytes = Array(name) + [0]
        return bytes.withUnsafeBufferPointer {
            body(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self))
        }
    }

    /// Runs `body` with the two entry names `first` and `second` as C strings, after checking each.
    private func withEntries<Result>(
        _ first: String, _ second: String, _ body: (UnsafePointer<CChar>, UnsafePointer<CChar>) -> Result
    ) throws(RecordStoreError) -> Result {
        guard DirectoryHandle.isEntryName(second.utf8) else {
            throw .system(operation: "name", path: path(of: TerminalText.escaped(second)), errno: EINVAL)
        }
        return try withEntry(first.utf8) { from in second.withCString { to in body(from, to) } }
    }

    /// Whether `name` names one entry: not empty, not `.` or `..`, no `/` and no NUL.
    static func isEntryName(_ name: some Collection<UInt8>) -> Bool {
        !name.isEmpty && !name.contains(UInt8(ascii: "/")) && !name.contains(0)
            && !name.elementsEqual(".".utf8) && !name.elementsEqual("..".utf8)
    }

    /// The status of entry `name` without following a link, nil when it does not exist. The
    /// corresponding C function is `fstatat` with `AT_SYMLINK_NOFOLLOW`.
    public func status(of name: String) throws(RecordStoreError) -> FileSystem.Status? {
        try status(ofRaw: Array(name.utf8))
    }

    /// The status of the entry whose raw name is `name` (bytes that need not be UTF-8).
    public func status(ofRaw name: [UInt8]) throws(RecordStoreError) -> FileSystem.Status? {
        var info = stat()
        let result = try withEntry(name) { entry in
            FileSystem.call { fstatat(descriptor.rawValue, entry, &info, AT_SYMLINK_NOFOLLOW) }
        }
        switch result {
        case .success: return FileSystem.Status(info)
        case .failure(.noSuchFileOrDirectory): return nil
        case .failure(let code):
            throw FileSystem.error("stat", path(of: TerminalText.escaped(bytes: name)), code.rawValue)
        }
    }

    /// Opens entry `name` for reading without following a link (nonblocking, so a FIFO cannot
    /// stall it); nil when it does not exist. The caller closes the descriptor.
    public func openForReading(_ name: String) throws(RecordStoreError) -> FileDescriptor? {
        let options: FileDescriptor.OpenOptions = [.noFollow, .closeOnExec, .nonBlocking]
        let result = try withEntry(name.utf8) { entry in
            FileSystem.call { openat(descriptor.rawValue, entry, options.rawValue) }
        }
        switch result {
        case .success(let raw): return FileDescriptor(rawValue: raw)
        case .failure(.noSuchFileOrDirectory): return nil
        case .failure(let code): throw FileSystem.error("open", path(of: name), code.rawValue)
        }
    }

    /// Reads entry `name` whole, refusing more than `limit` bytes; nil when it does not exist.
    /// A directory there fails with `EISDIR`, as `read(2)` reports.
    public func readFile(_ name: String, limit: Int) throws(RecordStoreError) -> [UInt8]? {
        guard let file = try openForReading(name) else { return nil }
        defer { try? file.close() }
        return try FileSystem.readAll(file.rawValue, path: path(of: name), limit: limit)
    }

    /// Whether entry `name` exists (of any kind, a link not followed).
    public func contains(_ name: String) -> Bool {
        ((try? status(of: name)) ?? nil) != nil
    }

    /// Creates the new entry `name` holding `bytes` and returns its status, or nil when the name is
    /// taken. With `sync`, the data reaches the disk before the call returns.
    public func createExclusive(_ name: String, bytes: [UInt8], sync: Bool = false, mode: mode_t = 0o644)
        throws(RecordStoreError) -> FileSystem.Status?
    {
        let options: FileDescriptor.OpenOptions = [.create, .exclusiveCreate, .closeOnExec, .noFollow]
        let result = try withEntry(name.utf8) { entry in
            FileSystem.call { openat(descriptor.rawValue, entry, O_WRONLY | options.rawValue, mode) }
        }
        let file: FileDescriptor
        switch result {
        case .success(let raw): file = FileDescriptor(rawValue: raw)
        case .failure(.fileExists): return nil
        case .failure(let code): throw FileSystem.error("create", path(of: name), code.rawValue)
        }
        defer { try? file.close() }
        do throws(RecordStoreError) {
            try FileSystem.writeAll(file.rawValue, bytes: bytes, path: path(of: name))
            if sync, case .failure(let code) = FileSystem.call({ fsync(file.rawValue) }) {
                throw FileSystem.error("fsync", path(of: name), code.rawValue)
            }
            return try FileSystem.status(of: file.rawValue, path: path(of: name))
        } catch {
            _ = try? removeName(name)
            throw error
        }
    }

    /// Creates an unnamed file in this directory holding `bytes`, then links it in as `name`: the
    /// name appears with its content complete, and no temporary name is ever visible. Returns the
    /// status, nil when `name` exists, or throws `.system(errno: EOPNOTSUPP)` where the filesystem
    /// lacks `O_TMPFILE`. The corresponding C functions are `openat(O_TMPFILE)` and `linkat`.
    public func createLinked(_ name: String, bytes: [UInt8]) throws(RecordStoreError) -> FileSystem.Status? {
        let options: FileDescriptor.OpenOptions = [.closeOnExec]
        let opened = FileSystem.call {
            openat(descriptor.rawValue, ".", FileSystem.temporaryFileFlag | O_WRONLY | options.rawValue, mode_t(0o644))
        }
        let file: FileDescriptor
        switch opened {
        case .success(let raw): file = FileDescriptor(rawValue: raw)
        case .failure(.notSupported), .failure(.isDirectory), .failure(.invalidArgument):
            throw .system(operation: "create", path: path, errno: EOPNOTSUPP)
        case .failure(let code): throw FileSystem.error("create", path(of: name), code.rawValue)
        }
        defer { try? file.close() }
        try FileSystem.writeAll(file.rawValue, bytes: bytes, path: path(of: name))
        let fileStatus = try FileSystem.status(of: file.rawValue, path: path(of: name))
        // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; everyone else links the file through /proc/self/fd.
        var linked = try withEntry(name.utf8) { entry in
            FileSystem.call { linkat(file.rawValue, "", descriptor.rawValue, entry, DirectoryHandle.emptyPath) }
        }
        if case .failure(let code) = linked, code != .fileExists {
            linked = try withEntry(name.utf8) { entry in
                FileSystem.call {
                    linkat(AT_FDCWD, "/proc/self/fd/\(file.rawValue)", descriptor.rawValue, entry, AT_SYMLINK_FOLLOW)
                }
            }
        }
        switch linked {
        case .success: return fileStatus
        case .failure(.fileExists): return nil
        case .failure(.noSuchFileOrDirectory) where access("/proc/self/fd", F_OK) != 0:
            throw .system(operation: "create", path: path, errno: EOPNOTSUPP)
        case .failure(let code): throw FileSystem.error("link", path(of: name), code.rawValue)
        }
    }

    /// Makes `target` a new name for the file `source`, both in this directory; false when `target`
    /// exists. The corresponding C function is `linkat`.
    public func link(_ source: String, to target: String) throws(RecordStoreError) -> Bool {
        let result = try withEntries(source, target) { from, to in
            FileSystem.call { linkat(descriptor.rawValue, from, descriptor.rawValue, to, 0) }
        }
        switch result {
        case .success: return true
        case .failure(.fileExists): return false
        case .failure(let code): throw FileSystem.error("link", path(of: target), code.rawValue)
        }
    }

    /// How ``rename(_:to:mode:)`` treats a `target` that exists.
    public enum RenameMode: Sendable {
        /// Replace it, as `rename(2)` does.
        case replacing
        /// Refuse to replace it (`RENAME_NOREPLACE`).
        case withoutReplacing
        /// Swap the two files atomically (`RENAME_EXCHANGE`).
        case exchanging
    }

    /// What a rename did.
    public enum RenameOutcome: Equatable, Sendable {
        /// Renamed (or, exchanging, swapped).
        case renamed
        /// `source` does not exist.
        case sourceMissing
        /// `target` exists (a file, a directory: anything), without replacing.
        case targetTaken
        /// The filesystem cannot honour the mode (`EINVAL`, `ENOSYS`, `EOPNOTSUPP`).
        case unsupported
    }

    /// Renames the entry `source` to `target`, both in this directory, by `mode`. The
    /// corresponding C function is `renameat2`.
    public func rename(_ source: String, to target: String, mode: RenameMode = .replacing) throws(RecordStoreError)
        -> RenameOutcome
    {
        let flags: UInt32
        switch mode {
        case .replacing: flags = 0
        case .withoutReplacing: flags = locktop_rename_noreplace_flag()
        case .exchanging: flags = locktop_rename_exchange_flag()
        }
        let result = try withEntries(source, target) { from, to in
            FileSystem.call { locktop_renameat(descriptor.rawValue, from, to, flags) }
        }
        switch result {
        case .success: return .renamed
        case .failure(.noSuchFileOrDirectory): return .sourceMissing
        case .failure(.fileExists), .failure(.directoryNotEmpty), .failure(.isDirectory), .failure(.notDirectory):
            if mode == .replacing, case .failure(let code) = result {
                throw FileSystem.error("rename", path(of: source), code.rawValue)
            }
            return .targetTaken
        case .failure(.invalidArgument), .failure(.notSupported),
            .failure(.noFunction) where mode != .replacing:
            return .unsupported
        case .failure(let code): throw FileSystem.error("rename", path(of: source), code.rawValue)
        }
    }

    /// Removes the entry `name` (not a directory), returning false when it was already gone. The
    /// corresponding C function is `unlinkat`.
    @discardableResult
    public func removeName(_ name: String) throws(RecordStoreError) -> Bool {
        let result = try withEntry(name.utf8) { entry in FileSystem.call { unlinkat(descriptor.rawValue, entry, 0) } }
        switch result {
        case .success: return true
        case .failure(.noSuchFileOrDirectory): return false
        case .failure(let code): throw FileSystem.error("remove", path(of: name), code.rawValue)
        }
    }

    /// Opens the subdirectory `name` as a handle of its own, without following a link; nil when it
    /// does not exist. A link or another kind of file there throws.
    public func openSubdirectory(_ name: String) throws(RecordStoreError) -> DirectoryHandle? {
        let options: FileDescriptor.OpenOptions = [.directory, .noFollow, .closeOnExec]
        let result = try withEntry(name.utf8) { entry in
            FileSystem.call { openat(descriptor.rawValue, entry, options.rawValue | DirectoryHandle.pathOnly) }
        }
        let raw: Int32
        switch result {
        case .success(let value): raw = value
        case .failure(.noSuchFileOrDirectory): return nil
        case .failure(.notDirectory): throw .notADirectory(path: path(of: name))
        case .failure(let code): throw FileSystem.error("open directory", path(of: name), code.rawValue)
        }
        let opened = FileDescriptor(rawValue: raw)
        do {
            let status = try FileSystem.status(of: raw, path: path(of: name))
            return DirectoryHandle(path: path(of: name), descriptor: opened, key: FileKey(status))
        } catch {
            try? opened.close()
            throw error
        }
    }

    /// Creates the subdirectory `name` with `mode` (less the umask); false when the name is taken.
    @discardableResult
    public func makeSubdirectory(_ name: String, mode: mode_t) throws(RecordStoreError) -> Bool {
        let result = try withEntry(name.utf8) { entry in FileSystem.call { mkdirat(descriptor.rawValue, entry, mode) } }
        switch result {
        case .success: return true
        case .failure(.fileExists): return false
        case .failure(let code): throw FileSystem.error("mkdir", path(of: name), code.rawValue)
        }
    }

    /// What the filesystem itself says now of entry `name`, past NFS's attribute cache: its
    /// modification time in nanoseconds, its owner and whether it is a regular file; nil when it
    /// does not exist. A heartbeat's age is read this way. The corresponding C function is
    /// `statx` with `AT_SYMLINK_NOFOLLOW` and `AT_STATX_FORCE_SYNC`.
    public func freshStatus(of name: String) throws(RecordStoreError) -> FreshStatus? {
        var modified: Int64 = 0
        var owner: UInt32 = 0
        var mode: UInt32 = 0
        let result = try withEntry(name.utf8) { entry in
            FileSystem.call { locktop_fresh_entry_status(descriptor.rawValue, entry, &modified, &owner, &mode) }
        }
        switch result {
        case .success:
            return FreshStatus(
                modifiedNanoseconds: modified, owner: owner, isRegularFile: mode & UInt32(S_IFMT) == UInt32(S_IFREG))
        case .failure(.noSuchFileOrDirectory): return nil
        case .failure(let code): throw FileSystem.error("stat", path(of: name), code.rawValue)
        }
    }

    /// An entry's status as ``freshStatus(of:)`` reads it.
    public struct FreshStatus: Equatable, Sendable {
        /// The modification time, in nanoseconds since 1970, by the filesystem's clock.
        public var modifiedNanoseconds: Int64
        /// The owner's uid.
        public var owner: UInt32
        /// Whether it is a regular file (not a link, a directory or a FIFO).
        public var isRegularFile: Bool

        /// The modification time as a date.
        public var modified: Date { Date(timeIntervalSince1970: Double(modifiedNanoseconds) / 1e9) }
    }

    /// Opens the directory itself for listing (`openat(".")`): the caller reads and closes it.
    public func openForListing() throws(RecordStoreError) -> FileDescriptor {
        let options: FileDescriptor.OpenOptions = [.directory, .closeOnExec]
        switch FileSystem.call({ openat(descriptor.rawValue, ".", options.rawValue) }) {
        case .success(let raw): return FileDescriptor(rawValue: raw)
        case .failure(let code): throw FileSystem.error("open directory", path, code.rawValue)
        }
    }

    /// The directory's modification and change times in nanoseconds, nil when they cannot be read:
    /// what moves when its names change. Asked of the filesystem itself, past the attribute caches
    /// of NFS and FUSE, so another host's change shows at the next poll. The corresponding C
    /// function is `statx` with `AT_EMPTY_PATH` and `AT_STATX_FORCE_SYNC`.
    public func changeStamp() -> (modified: Int64, changed: Int64)? {
        var modified: Int64 = 0
        var changed: Int64 = 0
        guard locktop_fresh_times(descriptor.rawValue, &modified, &changed) == 0 else { return nil }
        return (modified, changed)
    }
}
