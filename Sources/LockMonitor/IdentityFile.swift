import Foundation
import RecordStore

/// What a watching locktop learned about who created which lock file, kept beside the audit log
/// (`identities.json`) so that a restart, or `locktop list`, still knows. Keyed by device, inode
/// and modification time, so an entry never applies to a later lock file of the same name.
public struct IdentityFile: Sendable {
    /// The file path.
    public let path: String

    /// The identity file beside `auditLog`.
    public init(besides auditLog: AuditLog) {
        path = (auditLog.path as NSString).deletingLastPathComponent + "/identities.json"
    }

    /// One lock file, as it was when its creator was learned.
    public struct Key: Hashable, Sendable {
        public var file: FileKey
        public var modifiedNanoseconds: Int64

        public init(file: FileKey, modifiedNanoseconds: Int64) {
            self.file = file
            self.modifiedNanoseconds = modifiedNanoseconds
        }

        /// The key of the lock file with `status`.
        public init(_ status: FileSystem.Status) {
            self.init(file: FileKey(status), modifiedNanoseconds: status.modifiedNanoseconds)
        }
    }

    /// What was learned about one lock file.
    public struct Record: Equatable, Sendable {
        public var creator: ProcessDetails?
        public var waiters: [IdentityLedger.Waiter]
        /// The lock's usual (p95) hold, from the holds the watcher saw complete.
        public var typicalHold: TimeInterval?
        /// When the watcher last saw other processes read it.
        public var lastPolled: Date?

        public init(
            creator: ProcessDetails?, waiters: [IdentityLedger.Waiter], typicalHold: TimeInterval? = nil,
            lastPolled: Date? = nil
        ) {
            self.creator = creator
            self.waiters = waiters
            self.typicalHold = typicalHold
            self.lastPolled = lastPolled
        }

        /// Whether it says anything.
        public var isEmpty: Bool { creator == nil && waiters.isEmpty && typicalHold == nil && lastPolled == nil }
    }

    /// Every record; empty when the file is missing or garbled, or when another uid owns or may write it.
    public func load() -> [Key: Record] {
        guard let bytes = (try? StateDirectory.read(path, limit: 16 * 1024 * 1024)) ?? nil else { return [:] }
        return Self.parse(bytes)
    }

    /// The records of an identity file's `bytes`; what does not parse is left out.
    public static func parse(_ bytes: [UInt8]) -> [Key: Record] {
        guard case .array(let entries)? = JSONValue.parse(bytes)?["locks"] else { return [:] }
        var records: [Key: Record] = [:]
        for entry in entries {
            guard let device = entry["device"]?.stringValue.flatMap({ UInt64($0) }),
                let inode = entry["inode"]?.stringValue.flatMap({ UInt64($0) }),
                let modified = entry["modified_ns"]?.stringValue.flatMap({ Int64($0) })
            else { continue }
            var waiters: [IdentityLedger.Waiter] = []
            if case .array(let list)? = entry["waiters"] {
                waiters = list.compactMap { item in
                    guard let process = item["process"].flatMap(Self.process), let since = Self.time(item["since"]),
                        let lastSeen = Self.time(item["last_seen"])
                    else { return nil }
                    return IdentityLedger.Waiter(
                        process: process, since: since, lastSeen: lastSeen, reads: IdentityLedger.readsToWait)
                }
            }
            let typicalHold = entry["typical_hold_seconds"]?.numberValue.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
            records[Key(file: FileKey(device: device, inode: inode), modifiedNanoseconds: modified)] =
                Record(
                    creator: entry["creator"].flatMap(Self.process), waiters: waiters, typicalHold: typicalHold,
                    lastPolled: Self.time(entry["last_polled"]))
        }
        return records
    }

    /// Replaces the file with `records`, atomically.
    public func save(_ records: [Key: Record]) throws(RecordStoreError) {
        let entries: [JSONValue] = records.sorted { $0.key.file.inode < $1.key.file.inode }.map { key, record in
            .object([
                "device": .string(String(key.file.device)), "inode": .string(String(key.file.inode)),
                "modified_ns": .string(String(key.modifiedNanoseconds)),
                "creator": record.creator.map(Self.json) ?? .null,
                "waiters": .array(
                    record.waiters.map {
                        .object([
                            "process": Self.json($0.process), "since": Self.json($0.since),
                            "last_seen": Self.json($0.lastSeen),
                        ])
                    }),
                "typical_hold_seconds": record.typicalHold.map(JSONValue.number) ?? .null,
                "last_polled": Self.json(record.lastPolled),
            ])
        }
        var output = [UInt8]()
        JSONValue.encodeObject([("schema", .number(1)), ("locks", .array(entries))], into: &output)
        try StateDirectory.replace(path, bytes: output + [0x0A])
    }

    /// A time as identity and host report files write it.
    static func json(_ date: Date?) -> JSONValue {
        date.map { .string(PrefectTimestamp.format($0, separator: "T")) } ?? .null
    }

    /// A time as ``json(_:)-(Date?)`` wrote it; nil for anything else.
    static func time(_ value: JSONValue?) -> Date? {
        value?.stringValue.flatMap(PrefectTimestamp.parse)
    }

    /// A process as identity and host report files write it.
    static func json(_ process: ProcessDetails) -> JSONValue {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        return .object([
            "pid": .number(Double(process.processID)), "host": .string(process.hostName),
            "start_ticks": text(process.startTicks.map { String($0) }), "command": .string(process.command),
            "user": text(process.user),
            "start_time": json(process.startTime), "flow_run_id": text(process.flowRunID),
            "last_seen_alive": json(process.lastSeenAlive), "uid": process.uid.map { .number(Double($0)) } ?? .null,
            "exited_before_seen": .bool(process.exitedBeforeSeen),
        ])
    }

    /// A process as ``json(_:)-(ProcessDetails)`` wrote it; nil when it names none.
    static func process(_ value: JSONValue) -> ProcessDetails? {
        // Anything may be in the file: a pid that is no positive Int32 (`1e300`) is no process.
        guard let number = value["pid"]?.numberValue, let pid = Int32(exactly: number), pid > 0,
            let host = value["host"]?.stringValue, let command = value["command"]?.stringValue
        else { return nil }
        var process = ProcessDetails(
            processID: pid, hostName: host, startTicks: value["start_ticks"]?.stringValue.flatMap { UInt64($0) },
            command: command, user: value["user"]?.stringValue, startTime: time(value["start_time"]),
            flowRunID: value["flow_run_id"]?.stringValue, lastSeenAlive: time(value["last_seen_alive"]))
        process.uid = value["uid"]?.numberValue.flatMap { UInt32(exactly: $0) }
        process.exitedBeforeSeen = value["exited_before_seen"] == .bool(true)
        return process
    }
}
