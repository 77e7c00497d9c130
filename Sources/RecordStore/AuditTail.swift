import Foundation

/// Follows the audit log from where it ended when watching began, so a watcher can tell a break
/// from a release, and who broke it: the breaker appends its line before it drops the aside file.
public struct AuditTail: Sendable {
    /// The log followed.
    public let log: AuditLog
    private var offset: Int
    private var recent: [AuditLog.Entry] = []

    /// The most entries kept unmatched; older ones are forgotten.
    static let keptEntries = 256

    /// Starts at the end of `log`.
    public init(log: AuditLog) {
        self.log = log
        offset = log.endOffset()
    }

    /// Reads the entries appended since the last call.
    public mutating func refresh() {
        guard let (entries, end) = try? log.entries(from: offset) else { return }
        offset = end
        // A signal sent to a holder breaks nothing: its line never explains a removal.
        recent += entries.filter(\.isBreak)
        if recent.count > Self.keptEntries { recent.removeFirst(recent.count - Self.keptEntries) }
    }

    /// Takes the entry of the break that set the lock aside under `asideName` in `directory` (when known).
    public mutating func take(asideName: String, in directory: FileKey?) -> AuditLog.Entry? {
        refresh()
        guard
            let index = recent.lastIndex(where: {
                $0.aside == asideName && (directory == nil || $0.directory == directory)
            })
        else { return nil }
        return recent.remove(at: index)
    }

    /// Takes the entry of a break of exactly `lockFile` (a Redis lock: `redis://host:port/db lock:key`) held by `holder`.
    public mutating func take(lockFile: String, holder: String?) -> AuditLog.Entry? {
        refresh()
        guard let index = recent.lastIndex(where: { $0.lockFile == lockFile && $0.oldHolder == holder }) else {
            return nil
        }
        return recent.remove(at: index)
    }

    /// Takes the entry of a break of the lock file `lockName` in `directory`, held by `holder`: a
    /// break of a lock of that name in any other directory explains nothing here.
    public mutating func take(lockName: String, in directory: FileKey, holder: String?) -> AuditLog.Entry? {
        refresh()
        guard
            let index = recent.lastIndex(where: {
                $0.directory == directory && ($0.lockFile as NSString).lastPathComponent == lockName
                    && $0.oldHolder == holder
            })
        else { return nil }
        return recent.remove(at: index)
    }
}
