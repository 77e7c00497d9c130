import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The append-only record of every lock locktop breaks, as JSON lines:
/// time, who broke it, key, lock file, old holder, old expiration, reason.
/// It lives under `$XDG_STATE_HOME/locktop/audit.log` (default `~/.local/state/locktop`), never in the records directory.
public struct AuditLog: Sendable {
    /// The log file path.
    public let path: String

    /// A log at `path`.
    public init(path: String) {
        self.path = path
    }

    /// The default location, from `XDG_STATE_HOME` or `HOME`.
    public static func defaultLocation(environment: [String: String] = ProcessInfo.processInfo.environment) -> AuditLog {
        let stateHome = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state"
        return AuditLog(path: stateHome + "/locktop/audit.log")
    }

    /// One broken lock.
    public struct Entry: Equatable, Sendable {
        public var time: Date
        public var brokenBy: String
        public var key: String
        public var lockFile: String
        public var oldHolder: String?
        public var oldExpiration: Date?
        public var reason: String

        public init(time: Date, brokenBy: String, key: String, lockFile: String, oldHolder: String?,
                    oldExpiration: Date?, reason: String) {
            self.time = time
            self.brokenBy = brokenBy
            self.key = key
            self.lockFile = lockFile
            self.oldHolder = oldHolder
            self.oldExpiration = oldExpiration
            self.reason = reason
        }

        /// The JSON line, without its newline.
        public func encoded() -> [UInt8] {
            var output = [UInt8]()
            JSONValue.encodeObject([
                ("time", .string(PrefectTimestamp.format(time))),
                ("broken_by", .string(brokenBy)),
                ("key", .string(key)),
                ("lock_file", .string(lockFile)),
                ("old_holder", oldHolder.map(JSONValue.string) ?? .null),
                ("old_expiration", oldExpiration.map { .string(PrefectTimestamp.format($0)) } ?? .null),
                ("reason", .string(reason)),
            ], into: &output)
            return output
        }
    }

    /// Appends `entry` with a single `write(2)` in append mode, creating the log and its directory.
    public func append(_ entry: Entry) throws(RecordStoreError) {
        try FileSystem.createDirectory(LockFiles.directory(of: path))
        let (fd, code) = FileSystem.retrying { open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        guard fd >= 0 else { throw FileSystem.error("open audit log", path, code) }
        defer { close(fd) }
        let line = entry.encoded() + [0x0A]
        let (written, writeCode) = FileSystem.retrying {
            Int32(truncatingIfNeeded: line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) })
        }
        if written != Int32(line.count) { throw FileSystem.error("append to audit log", path, writeCode) }
    }
}
