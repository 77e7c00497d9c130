import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A lock holder string, with its parts when it has Prefect's `host:pid:thread_id:thread_name[:task_id]` form.
/// Newer Prefect writes any string, typically a UUID; that form has no parts.
public struct LockHolder: Equatable, Hashable, Sendable {
    /// The holder exactly as written in the lock file.
    public let rawValue: String
    /// The host name, for the `host:pid:...` form.
    public let hostName: String?
    /// The process id, for the `host:pid:...` form.
    public let processID: Int32?
    /// The thread id, for the `host:pid:...` form.
    public let threadID: UInt64?
    /// The thread name, for the `host:pid:...` form.
    public let threadName: String?
    /// The optional fifth part that some Prefect versions append.
    public let taskID: String?

    /// Parses a holder string. Any string is a valid holder.
    public init(_ rawValue: String) {
        self.rawValue = rawValue
        let colons = rawValue.utf8.count { $0 == UInt8(ascii: ":") }
        let parts = colons >= 3 ? rawValue.split(separator: ":", omittingEmptySubsequences: false).map(String.init) : []
        if parts.count >= 4, !parts[0].isEmpty, let pid = Int32(parts[1]), pid > 0, let thread = UInt64(parts[2]) {
            hostName = parts[0]
            processID = pid
            threadID = thread
            if parts.count == 4 {
                threadName = parts[3]
                taskID = nil
            } else {
                threadName = parts[3..<(parts.count - 1)].joined(separator: ":")
                taskID = parts[parts.count - 1]
            }
        } else {
            hostName = nil
            processID = nil
            threadID = nil
            threadName = nil
            taskID = nil
        }
    }

    /// Whether the holder names a host and process.
    public var hasProcessForm: Bool { processID != nil }

    /// The holder Prefect would write for the calling thread: `hostname:pid:thread_id:thread_name`.
    public static func current() -> LockHolder {
        let threadID = UInt64(UInt(bitPattern: Int(bitPattern: UInt(pthread_self()))))
        let name: String
        if Thread.isMainThread {
            name = "MainThread"
        } else {
            let threadName = Thread.current.name ?? ""
            name = threadName.isEmpty ? "Thread-\(threadID)" : threadName
        }
        return LockHolder(
            "\(ProcessIdentity.current.hostName):\(ProcessIdentity.current.processID):\(threadID):\(name)")
    }
}
