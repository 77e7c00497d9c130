import Foundation

/// The JSON inside a lock file: `{"holder": ..., "expiration": ...}`, as every Prefect 3 version writes it,
/// plus optional fields that locktop adds to judge staleness. Prefect ignores the extra fields.
public struct LockFileContent: Equatable, Sendable {
    /// Who holds the lock.
    public var holder: String
    /// When the lock expires, or nil for a lock that never expires.
    public var expiration: Date?
    /// The host of the process that wrote the lock, when recorded.
    public var hostName: String?
    /// The pid of the process that wrote the lock, when recorded.
    public var processID: Int32?
    /// The start time of that process in clock ticks since boot, when recorded.
    public var processStartTicks: UInt64?
    /// When the lock was taken, when recorded.
    public var acquiredAt: Date?
    /// The Prefect flow run holding the lock, as the Prefect helper (integrations/prefect) records it.
    public var flowRunID: String?
    /// That flow run's name.
    public var flowRunName: String?
    /// The Prefect task run holding the lock, its name and its task's name, as the helper records them.
    public var taskRunID: String?
    public var taskRunName: String?
    public var taskName: String?
    /// The pid of the process that ends the lock's command group if the holder dies (`locktop
    /// lock`'s watchdog). It outlives the holder until that group is gone, so while it runs the
    /// holder's work may still run, and the lock is not stale.
    public var guardianProcessID: Int32?
    /// The guardian's start time in clock ticks since boot.
    public var guardianStartTicks: UInt64?
    /// The Prefect helper's heartbeat file beside the lock (`.locktop-alive-HOST-PID-START-NONCE`), which
    /// its process touches every ``heartbeatInterval`` while it holds a lock; nil when the name is
    /// missing or not such a name.
    public var heartbeat: String?
    /// How often the heartbeat is touched, in seconds (0.1 to 3600).
    public var heartbeatInterval: TimeInterval?

    /// Creates lock content.
    public init(
        holder: String, expiration: Date?, hostName: String? = nil, processID: Int32? = nil,
        processStartTicks: UInt64? = nil, acquiredAt: Date? = nil
    ) {
        self.holder = holder
        self.expiration = expiration
        self.hostName = hostName
        self.processID = processID
        self.processStartTicks = processStartTicks
        self.acquiredAt = acquiredAt
    }

    /// Parses lock file bytes, compact or spaced. Returns nil for anything Prefect could not read:
    /// not JSON, not an object, no string `holder`, or an `expiration` that is not a timestamp.
    public init?<Bytes: Collection<UInt8>>(parsing bytes: Bytes) {
        guard let value = JSONValue.parse(bytes), let holder = value["holder"]?.stringValue else { return nil }
        self.holder = holder
        switch value["expiration"] {
        case nil, .null?: expiration = nil
        case .string(let text)?:
            guard let date = PrefectTimestamp.parse(text) else { return nil }
            expiration = date
        default: return nil
        }
        hostName = value["host"]?.stringValue
        processID = value["pid"]?.numberValue.flatMap { Int32(exactly: $0) }
        processStartTicks = value["process_start_ticks"]?.numberValue.flatMap { UInt64(exactly: $0) }
        acquiredAt = value["acquired_at"]?.stringValue.flatMap(PrefectTimestamp.parse)
        flowRunID = value["flow_run_id"]?.stringValue
        flowRunName = value["flow_run_name"]?.stringValue
        taskRunID = value["task_run_id"]?.stringValue
        taskRunName = value["task_run_name"]?.stringValue
        taskName = value["task_name"]?.stringValue
        guardianProcessID = value["guardian_pid"]?.numberValue.flatMap { Int32(exactly: $0) }
        guardianStartTicks = value["guardian_start_ticks"]?.numberValue.flatMap { UInt64(exactly: $0) }
        if let name = value["heartbeat"]?.stringValue, Self.isHeartbeatName(name),
            let interval = value["heartbeat_interval"]?.numberValue, interval >= 0.1, interval <= 3600
        {
            heartbeat = name
            heartbeatInterval = interval
        }
    }

    /// Whether `name` is a heartbeat file's: one entry, with the heartbeat prefix, at most 255 bytes.
    static func isHeartbeatName(_ name: String) -> Bool {
        name.hasPrefix(LockFiles.heartbeatPrefix) && name.utf8.count <= 255 && !name.contains("/")
            && !name.utf8.contains(0)
    }

    /// The lock file bytes: Prefect 3.0's spaced `json.dump` form, ASCII only, holder and expiration first.
    public func encoded() -> [UInt8] {
        var members: [(key: String, value: JSONValue)] = [
            ("holder", .string(holder)),
            ("expiration", expiration.map { .string(PrefectTimestamp.format($0)) } ?? .null),
        ]
        if let hostName { members.append(("host", .string(hostName))) }
        if let processID { members.append(("pid", .number(Double(processID)))) }
        if let processStartTicks { members.append(("process_start_ticks", .number(Double(processStartTicks)))) }
        if let acquiredAt { members.append(("acquired_at", .string(PrefectTimestamp.format(acquiredAt)))) }
        if let guardianProcessID { members.append(("guardian_pid", .number(Double(guardianProcessID)))) }
        if let guardianStartTicks {
            members.append(("guardian_start_ticks", .number(Double(guardianStartTicks))))
        }
        if let heartbeat, let heartbeatInterval {
            members.append(("heartbeat", .string(heartbeat)))
            members.append(("heartbeat_interval", .number(heartbeatInterval)))
        }
        var output = [UInt8]()
        output.reserveCapacity(192)
        JSONValue.encodeObject(members, into: &output)
        return output
    }

    /// The host and pid of the process the lock names: its own `host`/`pid` fields, else those of a
    /// `host:pid:thread_id:thread_name` holder; nil where it names none (a UUID holder).
    public var namedProcess: (hostName: String?, processID: Int32?) {
        let holder = LockHolder(self.holder)
        return (hostName ?? holder.hostName, processID ?? holder.processID)
    }

    /// Whether the lock has expired at `now`. A lock without an expiration never does.
    public func isExpired(at now: Date) -> Bool {
        guard let expiration else { return false }
        return expiration < now
    }
}
