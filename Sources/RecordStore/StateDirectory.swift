import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// locktop's state directory (`$XDG_STATE_HOME/locktop`: the audit log, `identities.json`,
/// `redis-first-seen.json`), the operator's alone. It is made 0700 and its files 0600, since they
/// hold other users' command lines; one that another uid owns or may write is refused, and says why:
/// what is in it decides verdicts and names who broke what.
public enum StateDirectory {
    /// The mode of the directory locktop makes.
    public static let directoryMode: mode_t = 0o700
    /// The mode of the files locktop writes in it.
    public static let fileMode: mode_t = 0o600

    /// Makes `path` 0700 when missing (its parents as needed), and refuses one that another uid
    /// owns or may write.
    public static func prepare(_ path: String) throws(RecordStoreError) {
        if try FileSystem.status(path) == nil {
            let parent = LockFiles.directory(of: path)
            if parent != path, parent != "/" { try FileSystem.createDirectory(parent) }
            if mkdir(path, directoryMode) != 0 && errno != EEXIST {
                throw FileSystem.error("create directory", path, errno)
            }
        }
        try check(path, isDirectory: true)
    }

    /// Refuses the state at `path` (the directory, or a file in it) when another uid owns it or
    /// may write it, or when it is a symbolic link; a missing file passes.
    public static func check(_ path: String, isDirectory: Bool = false) throws(RecordStoreError) {
        guard let status = try FileSystem.status(path) else { return }
        if status.isSymbolicLink { throw .untrustedState(path: path, reason: "it is a symbolic link") }
        if isDirectory != status.isDirectory {
            throw .untrustedState(
                path: path, reason: isDirectory ? "it is not a directory" : "it is not a regular file")
        }
        if status.owner != geteuid() {
            throw .untrustedState(path: path, reason: "it is owned by uid \(status.owner), not \(geteuid())")
        }
        if status.mode & 0o022 != 0 {
            throw .untrustedState(
                path: path, reason: "others may write it (mode \(String(status.mode & 0o777, radix: 8)))")
        }
    }

    /// Replaces the state file at `path` with `bytes` atomically, 0600, in a prepared directory.
    public static func replace(_ path: String, bytes: [UInt8]) throws(RecordStoreError) {
        try prepare(LockFiles.directory(of: path))
        try LockFiles.replace(path: path, bytes: bytes, mode: fileMode)
    }

    /// The bytes of the state file at `path`, at most `limit`; nil when it is missing. Throws when
    /// it, or its directory, is not the operator's alone.
    public static func read(_ path: String, limit: Int) throws(RecordStoreError) -> [UInt8]? {
        try check(LockFiles.directory(of: path), isDirectory: true)
        try check(path)
        return try FileSystem.readFile(path, limit: limit)
    }
}
