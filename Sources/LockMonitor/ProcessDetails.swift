import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// A process that created or waits on a lock, as `/proc` described it when it was seen.
public struct ProcessDetails: Equatable, Sendable {
    public var processID: Int32
    public var hostName: String
    /// Field 22 of `/proc/PID/stat`; with the pid, it survives pid reuse.
    public var startTicks: UInt64?
    /// The whole command line, arguments joined by spaces.
    public var command: String
    public var user: String?
    public var startTime: Date?
    /// `PREFECT__FLOW_RUN_ID` from its environment, when readable.
    public var flowRunID: String?
    /// When it was last found running, so a death can be dated.
    public var lastSeenAlive: Date?
    /// Its real uid, from `/proc/PID/status`.
    public var uid: UInt32?
    /// Whether it is a locktop that only watches or operates (any locktop but `locktop lock` and
    /// the demo's workers): its
    /// reads of a lock file are never a waiter's.
    public var isLocktopObserver = false
    /// Whether the kernel said it had exited by the time its write was read (fanotify's pidfd):
    /// dead, whatever its pid names now; nothing else about it is known.
    public var exitedBeforeSeen = false

    public init(
        processID: Int32, hostName: String, startTicks: UInt64?, command: String, user: String? = nil,
        startTime: Date? = nil, flowRunID: String? = nil, lastSeenAlive: Date? = nil
    ) {
        self.processID = processID
        self.hostName = hostName
        self.startTicks = startTicks
        self.command = command
        self.user = user
        self.startTime = startTime
        self.flowRunID = flowRunID
        self.lastSeenAlive = lastSeenAlive
    }

    /// The command for a table, its most telling part first: for an interpreter (`python`,
    /// `node`, `sh`…), the script's base name and every argument, not the interpreter and its
    /// options (`/usr/bin/python3 -u worker.py run1` is `worker.py run1`, `python -m
    /// prefect.engine` is `prefect.engine`); else the program's base name and its arguments. At
    /// most ``shortCommandLength`` characters, so four workers that differ in their last argument
    /// still tell apart in a 40-column cell.
    public var shortCommand: String {
        var words = command.split(separator: " ").map(String.init)
        guard let program = words.first else { return "" }
        let name = (program as NSString).lastPathComponent
        words.removeFirst()
        if Self.isInterpreter(name) {
            while let option = words.first, option.hasPrefix("-"), option != "-m", option != "-c" {
                words.removeFirst()
            }
            if words.first == "-m", words.count > 1 { words.removeFirst() }
            if let script = words.first, script != "-c" { words[0] = (script as NSString).lastPathComponent }
        }
        let text = (Self.isInterpreter(name) && !words.isEmpty ? words : [name] + words).joined(separator: " ")
        return text.count > Self.shortCommandLength ? String(text.prefix(Self.shortCommandLength - 1)) + "…" : text
    }

    /// The longest ``shortCommand``.
    public static let shortCommandLength = 48

    /// Whether a program named `name` runs a script named by its arguments: `python3.11`, `node`, `bash`.
    static func isInterpreter(_ name: String) -> Bool {
        let stem = String(name.prefix { !$0.isNumber && $0 != "." })
        return ["python", "node", "ruby", "perl", "php", "bash", "sh", "dash", "zsh", "deno", "bun"].contains(stem)
    }

    /// A process of this host known only by its pid, which had exited by the time its write of
    /// a lock file was read.
    public static func exited(_ pid: Int32, hostName: String) -> ProcessDetails {
        var details = ProcessDetails(
            processID: pid, hostName: hostName, startTicks: nil, command: "exited before it was seen")
        details.exitedBeforeSeen = true
        return details
    }

    /// `pid command`, as a table shows the process.
    public var summary: String { "\(processID) \(shortCommand)" }

    /// Reads `/proc/PID` of a local process; nil when it does not exist.
    public static func inspect(_ pid: Int32, hostName: String) -> ProcessDetails? {
        guard let startTicks = ProcessIdentity.startTicks(of: pid) else { return nil }
        let arguments = read("/proc/\(pid)/cmdline").split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        var details = ProcessDetails(
            processID: pid, hostName: hostName, startTicks: startTicks,
            command: arguments.isEmpty ? "[pid \(pid)]" : arguments.joined(separator: " "))
        if let uid = ProcessIdentity.realUID(of: pid) {
            details.uid = uid
            details.user = LockBreaker.userName(of: uid)
        }
        details.isLocktopObserver = isLocktopObserver(pid, arguments: arguments)
        details.startTime = bootTime.map {
            $0.addingTimeInterval(Double(startTicks) / Double(sysconf(Int32(_SC_CLK_TCK))))
        }
        let prefix = Array("PREFECT__FLOW_RUN_ID=".utf8)
        if let variable = read("/proc/\(pid)/environ").split(separator: 0).first(where: { $0.starts(with: prefix) }) {
            details.flowRunID = String(decoding: variable.dropFirst(prefix.count), as: UTF8.self)
        }
        return details
    }

    /// The local process a lock file names by its own `host`/`pid` fields or a `host:pid` holder,
    /// as `/proc` describes it now; nil when it names none, another host's, or a process since replaced.
    public static func namedBy(_ content: LockFileContent, hostName: String) -> ProcessDetails? {
        let named = content.namedProcess
        guard let pid = named.processID, named.hostName == hostName,
            var details = inspect(pid, hostName: hostName)
        else { return nil }
        if let recorded = content.processStartTicks, details.startTicks != recorded { return nil }
        details.flowRunID = details.flowRunID ?? content.flowRunID
        return details
    }

    /// Whether `pid` runs a locktop executable for anything but a lease: `locktop lock` waits for
    /// its lock as any waiter does, and every other locktop reads lock files only to judge them.
    private static func isLocktopObserver(_ pid: Int32, arguments: [String]) -> Bool {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        let executable =
            count > 0
            ? String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : arguments.first ?? ""
        guard (executable as NSString).lastPathComponent == "locktop" else { return false }
        // `locktop lock` and the demo's workers take locks and wait for them as Prefect does.
        return !arguments.dropFirst().contains { $0 == "lock" || $0 == "demo-worker" }
    }

    private static func read(_ path: String) -> [UInt8] {
        ((try? FileSystem.readFile(path, limit: 256 * 1024)) ?? nil) ?? []
    }

    /// When this machine booted, from `btime` in `/proc/stat`.
    private static let bootTime: Date? = {
        let stat = String(decoding: read("/proc/stat"), as: UTF8.self)
        guard let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
            let seconds = Double(line.dropFirst(6))
        else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }()
}
