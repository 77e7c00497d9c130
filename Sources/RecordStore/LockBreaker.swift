import Foundation

/// Breaks locks for operators: removes exactly the lock file that was judged, and logs the break.
/// The CLI and the dashboard both break through this type.
public struct LockBreaker: Sendable {
    /// Where breaks are recorded.
    public let auditLog: AuditLog
    /// Who is breaking, as recorded in the log.
    public let operatorName: String
    /// The clock for the log's timestamps.
    public let now: @Sendable () -> Date

    /// Creates a breaker.
    public init(
        auditLog: AuditLog, operatorName: String = LockBreaker.defaultOperatorName(),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.auditLog = auditLog
        self.operatorName = operatorName
        self.now = now
    }

    /// `user@host:pid` of this process, the user named by its real uid (not `$USER`, which anyone sets).
    public static func defaultOperatorName() -> String {
        "\(userName(of: getuid()))@\(ProcessIdentity.current.hostName):\(ProcessIdentity.current.processID)"
    }

    /// The account name of `uid` from the password database, else `uidN`.
    public static func userName(of uid: uid_t) -> String {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name
        else { return "uid\(uid)" }
        return String(cString: name)
    }

    /// Removes the lock file `name` in `directory` if it is still the one described by `judged`, and logs it.
    ///
    /// The lock is taken aside and verified, then the break is logged, then the aside is removed:
    /// the log never claims a break that was undone, a watcher that sees the aside go finds the
    /// log line already written, and a break that cannot be logged is put back and not made.
    /// Throws ``RecordStoreError/lockChanged(key:)`` (the file is left in place) when it changed.
    /// Returns false when the file was already gone.
    @discardableResult
    public func breakLock(
        _ name: String, in directory: DirectoryHandle, judged: LockObservation, key: String, reason: String
    ) throws(RecordStoreError) -> Bool {
        guard let status = judged.status else { return false }
        var holder: String?
        var expiration: Date?
        if case .readable(let snapshot) = judged {
            holder = snapshot.content.holder
            expiration = snapshot.content.expiration
        }
        let path = directory.path(of: name)
        let entry = { (aside: String) in
            AuditLog.Entry(
                time: now(), brokenBy: operatorName, key: key, lockFile: path, oldHolder: holder,
                oldExpiration: expiration, reason: reason, aside: aside, directory: directory.key,
                lockInode: status.inode)
        }
        // A directory named like a lock is no lock: it is never taken aside.
        guard status.isRegularFile || status.isSymbolicLink else { throw .notALockFile(path: path) }
        // A link, or a file too large to read, is judged by its status alone (inode, size, time):
        // its bytes were never read, and a 10 GB file can still be broken with --force.
        let judgedBytes = status.isSymbolicLink || status.size > LockFiles.maximumLockFileSize ? nil : judged.bytes
        return try LockFiles.remove(
            name, in: directory, judged: status, bytes: judgedBytes, key: key, removal: .operatorBreak
        ) {
            aside throws(RecordStoreError) in try auditLog.append(entry(aside))
        }
    }
}
