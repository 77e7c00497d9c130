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
    public static func defaultLocation(environment: [String: String] = ProcessInfo.processInfo.environment) -> AuditLog
    {
        let stateHome =
            environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
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
        /// The name the lock file was taken aside to (`.locktop-PID-R.break`, R random), which lets a watcher
        /// match the rename it saw to this line (a symbolic link is taken aside as a file is); nil in old lines.
        public var aside: String?
        /// The locks directory, by device and inode, so that a break in another directory of the
        /// same name never explains a removal here.
        public var directory: FileKey?
        /// The inode of the lock file broken.
        public var lockInode: UInt64?
        /// For a line that records a signal sent to the lock's holder (the dashboard's `k`) rather
        /// than a break: the signal (`SIGTERM`), and ``processID`` the process it went to. Such a line
        /// never explains a lock file's removal.
        public var signal: String?
        public var processID: Int32?
        /// Whether it records a break (not a signal).
        public var isBreak: Bool { signal == nil }

        public init(
            time: Date, brokenBy: String, key: String, lockFile: String, oldHolder: String?,
            oldExpiration: Date?, reason: String, aside: String? = nil, directory: FileKey? = nil,
            lockInode: UInt64? = nil, signal: String? = nil, processID: Int32? = nil
        ) {
            self.time = time
            self.brokenBy = brokenBy
            self.key = key
            self.lockFile = lockFile
            self.oldHolder = oldHolder
            self.oldExpiration = oldExpiration
            self.reason = reason
            self.aside = aside
            self.directory = directory
            self.lockInode = lockInode
            self.signal = signal
            self.processID = processID
        }

        /// Parses one JSON line; nil when it is not an entry.
        public init?<Bytes: Collection<UInt8>>(line: Bytes) {
            guard let object = JSONValue.parse(line),
                let time = object["time"]?.stringValue.flatMap(PrefectTimestamp.parse),
                let brokenBy = object["broken_by"]?.stringValue, let key = object["key"]?.stringValue,
                let lockFile = object["lock_file"]?.stringValue, let reason = object["reason"]?.stringValue
            else { return nil }
            self.init(
                time: time, brokenBy: brokenBy, key: key, lockFile: lockFile,
                oldHolder: object["old_holder"]?.stringValue,
                oldExpiration: object["old_expiration"]?.stringValue.flatMap(PrefectTimestamp.parse), reason: reason,
                aside: object["aside"]?.stringValue,
                directory: Self.number(object["directory_device"]).flatMap { device in
                    Self.number(object["directory_inode"]).map { FileKey(device: device, inode: $0) }
                },
                lockInode: Self.number(object["lock_inode"]))
            if object["action"]?.stringValue == "signal" {
                // A signal line without its signal is still no break.
                signal = object["signal"]?.stringValue ?? "?"
                processID = object["pid"]?.numberValue.flatMap { Int32(exactly: $0) }
            }
        }

        private static func number(_ value: JSONValue?) -> UInt64? {
            value?.stringValue.flatMap { UInt64($0) }
        }

        /// The JSON line, without its newline.
        public func encoded() -> [UInt8] {
            var output = [UInt8]()
            var members: [(key: String, value: JSONValue)] = [
                ("time", .string(PrefectTimestamp.format(time))),
                ("broken_by", .string(brokenBy)),
                ("key", .string(key)),
                ("lock_file", .string(lockFile)),
                ("old_holder", oldHolder.map(JSONValue.string) ?? .null),
                ("old_expiration", oldExpiration.map { .string(PrefectTimestamp.format($0)) } ?? .null),
                ("reason", .string(reason)),
                ("aside", aside.map(JSONValue.string) ?? .null),
                ("directory_device", directory.map { .string(String($0.device)) } ?? .null),
                ("directory_inode", directory.map { .string(String($0.inode)) } ?? .null),
                ("lock_inode", lockInode.map { .string(String($0)) } ?? .null),
            ]
            if let signal {
                members += [
                    ("action", .string("signal")), ("signal", .string(signal)),
                    ("pid", processID.map { .number(Double($0)) } ?? .null),
                ]
            }
            JSONValue.encodeObject(members, into: &output)
            return output
        }
    }

    /// Appends `entry` with a single `write(2)` in append mode, creating the log (0600) and its
    /// directory (0700); refuses a log or directory another uid owns or may write.
    public func append(_ entry: Entry) throws(RecordStoreError) {
        try StateDirectory.prepare(LockFiles.directory(of: path))
        try StateDirectory.check(path)
        let (fd, code) = FileSystem.retrying {
            open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        }
        guard fd >= 0 else { throw FileSystem.error("open audit log", path, code) }
        defer { close(fd) }
        let line = entry.encoded() + [0x0A]
        let (written, writeCode) = FileSystem.retrying {
            Int32(truncatingIfNeeded: line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) })
        }
        if written != Int32(line.count) { throw FileSystem.error("append to audit log", path, writeCode) }
    }

    /// The entries that start at byte `offset` or later, and the offset after the last whole line.
    /// A missing log has no entries; lines that do not parse are skipped.
    public func entries(from offset: Int = 0) throws(RecordStoreError) -> (entries: [Entry], end: Int) {
        // A log another uid may write could claim any break.
        try StateDirectory.check(LockFiles.directory(of: path), isDirectory: true)
        try StateDirectory.check(path)
        guard let fd = try FileSystem.openForReading(path) else { return ([], 0) }
        defer { FileSystem.closeQuietly(fd) }
        let size = try FileSystem.status(of: fd, path: path).size
        guard size > offset else { return ([], min(offset, size)) }
        guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else { throw FileSystem.error("seek in audit log", path, errno) }
        let bytes = try FileSystem.readAll(fd, path: path, limit: size - offset + 65_536)
        guard let lastNewline = bytes.lastIndex(of: 0x0A) else { return ([], offset) }
        let entries = bytes[..<lastNewline].split(separator: 0x0A).compactMap { Entry(line: $0) }
        return (entries, offset + lastNewline + 1)
    }

    /// The current size of the log, where a reader that wants only new entries starts.
    public func endOffset() -> Int {
        (try? FileSystem.status(path))??.size ?? 0
    }
}
