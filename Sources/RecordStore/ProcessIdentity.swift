import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Who a process is: its host, pid and start time, which together survive pid reuse.
public struct ProcessIdentity: Equatable, Sendable {
    /// The host name, as `socket.gethostname()` returns it.
    public var hostName: String
    /// The process id.
    public var processID: Int32
    /// The start time in clock ticks since boot, field 22 of `/proc/PID/stat`, when known.
    public var startTicks: UInt64?

    /// Creates an identity from its parts.
    public init(hostName: String, processID: Int32, startTicks: UInt64?) {
        self.hostName = hostName
        self.processID = processID
        self.startTicks = startTicks
    }

    /// The running process.
    public static let current = ProcessIdentity(
        hostName: currentHostName(), processID: getpid(), startTicks: startTicks(of: getpid()))

    /// The host name of this machine.
    public static func currentHostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let length = buffer.firstIndex(of: 0) ?? buffer.count
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The start time of `pid` in clock ticks since boot, or nil when no such process runs: a zombie
    /// (killed, not yet reaped by its parent) counts as gone.
    public static func startTicks(of pid: Int32) -> UInt64? {
        guard let fields = statFields(of: pid), fields.count > 19, !isExitedState(fields[0]) else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }

    /// The real uid of `pid`, from `/proc/PID/status`; nil when no such process runs.
    public static func realUID(of pid: Int32) -> UInt32? {
        guard let bytes = (try? FileSystem.readFile("/proc/\(pid)/status", limit: 64 * 1024)) ?? nil else { return nil }
        let status = String(decoding: bytes, as: UTF8.self)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }) else { return nil }
        return line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap { UInt32($0) }
    }

    /// Whether `pid` has exited and waits to be reaped (a zombie): `/proc` still lists it, `kill(2)` still reaches it.
    public static func hasExited(_ pid: Int32) -> Bool {
        statFields(of: pid).map { isExitedState($0[0]) } ?? false
    }

    private static func isExitedState(_ state: ArraySlice<UInt8>) -> Bool {
        state.first == UInt8(ascii: "Z") || state.first == UInt8(ascii: "X")
    }

    /// The fields of `/proc/PID/stat` after the command name, from the state on.
    private static func statFields(of pid: Int32) -> [ArraySlice<UInt8>]? {
        guard let bytes = (try? FileSystem.readFile("/proc/\(pid)/stat", limit: 4096)) ?? nil,
            let closing = bytes.lastIndex(of: UInt8(ascii: ")"))
        else { return nil }
        let fields = bytes[(closing + 1)...].split(separator: UInt8(ascii: " "))
        return fields.isEmpty ? nil : fields
    }
}
