import Foundation
import RecordStore

/// What one host's agent (`locktop agent`) publishes every interval in the shared locks
/// directory's `.locktop/` folder: which of the lock files a process on that host created, whether
/// that process lives, and who waits. Another host reads it to judge holders it cannot see.
public struct HostReport: Equatable, Sendable {
    /// The format's version, `schema` in the file.
    public static let schema = 1
    /// The most bytes read of one report: 10k locks take about 3 MiB.
    public static let maximumSize = 32 * 1024 * 1024
    /// The most holders or waiters read of one report.
    public static let maximumEntries = 200_000
    /// After this many intervals without a new report, its agent is silent.
    public static let silenceIntervals: Double = 3

    /// The host's name.
    public var hostName: String
    /// `/proc/sys/kernel/random/boot_id`: a rebooted host is a new one.
    public var bootID: String
    /// When it was written, by the agent's clock (its age is judged by the storage's).
    public var writtenAt: Date
    /// How often the agent writes it.
    public var interval: TimeInterval
    /// The lock files a process on the host created.
    public var holders: [Holder]
    /// The processes on the host waiting on a lock.
    public var waiters: [Waiter]

    /// One lock file and the process that created it.
    public struct Holder: Equatable, Sendable {
        /// The lock file's name.
        public var lockName: String
        /// ``HostReport/fingerprint(of:)`` of its bytes: a lock taken again is another lock.
        public var fingerprint: String
        /// The creator, with its uid, flow run and when it was last found alive.
        public var process: ProcessDetails
        /// Whether it runs now (the same process: its start ticks match).
        public var isAlive: Bool

        /// Creates a holder.
        public init(lockName: String, fingerprint: String, process: ProcessDetails, isAlive: Bool) {
            self.lockName = lockName
            self.fingerprint = fingerprint
            self.process = process
            self.isAlive = isAlive
        }
    }

    /// A process waiting on a lock.
    public struct Waiter: Equatable, Sendable {
        public var lockName: String
        public var process: ProcessDetails
        public var since: Date

        /// Creates a waiter.
        public init(lockName: String, process: ProcessDetails, since: Date) {
            self.lockName = lockName
            self.process = process
            self.since = since
        }
    }

    /// Creates a report.
    public init(
        hostName: String, bootID: String, writtenAt: Date, interval: TimeInterval, holders: [Holder],
        waiters: [Waiter]
    ) {
        self.hostName = hostName
        self.bootID = bootID
        self.writtenAt = writtenAt
        self.interval = interval
        self.holders = holders
        self.waiters = waiters
    }

    /// The file name a host's report takes: `host-NAME.json`, with anything but letters, digits,
    /// `.`, `_` and `-` in the name as `_`.
    public static func fileName(forHost host: String) -> String {
        let safe = host.unicodeScalars.prefix(200).map { scalar -> Character in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
                ? Character(scalar) : "_"
        }
        return "host-\(String(safe)).json"
    }

    /// Whether `name` in `.locktop/` is a host report's.
    public static func isReportName(_ name: String) -> Bool { name.hasPrefix("host-") && name.hasSuffix(".json") }

    /// A digest of a lock file's bytes (64-bit FNV-1a, hex). It tells lock files apart; it proves
    /// nothing by itself, since whoever writes the lock file chooses its bytes (a report is
    /// believed of a lock only when its owner could make the claim, see ``HostReportBoard``).
    public static func fingerprint(of bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The report's file bytes.
    public func encoded() -> [UInt8] {
        let holderValues: [JSONValue] = holders.map { holder in
            .object([
                "lock": .string(holder.lockName), "fingerprint": .string(holder.fingerprint),
                "process": IdentityFile.json(holder.process), "alive": .bool(holder.isAlive),
            ])
        }
        let waiterValues: [JSONValue] = waiters.map { waiter in
            .object([
                "lock": .string(waiter.lockName), "process": IdentityFile.json(waiter.process),
                "since": IdentityFile.json(waiter.since),
            ])
        }
        var output = [UInt8]()
        JSONValue.encodeObject(
            [
                ("schema", .number(Double(Self.schema))), ("host", .string(hostName)), ("boot_id", .string(bootID)),
                ("written_at", IdentityFile.json(writtenAt)), ("interval_seconds", .number(interval)),
                ("holders", .array(holderValues)), ("waiters", .array(waiterValues)),
            ], into: &output)
        output.append(0x0A)
        return output
    }

    /// Parses a report's bytes; nil for anything that is not a report of this schema. Holders and
    /// waiters that do not parse are left out.
    public init?(parsing bytes: [UInt8]) {
        guard bytes.count <= Self.maximumSize, let value = JSONValue.parse(bytes),
            value["schema"]?.numberValue == Double(Self.schema), let host = value["host"]?.stringValue,
            let writtenAt = IdentityFile.time(value["written_at"]),
            let interval = value["interval_seconds"]?.numberValue, interval >= 0.1, interval <= 3600
        else { return nil }
        hostName = host
        bootID = value["boot_id"]?.stringValue ?? ""
        self.writtenAt = writtenAt
        self.interval = interval
        var holders: [Holder] = []
        if case .array(let list)? = value["holders"] {
            for item in list.prefix(Self.maximumEntries) {
                guard let lock = item["lock"]?.stringValue, let fingerprint = item["fingerprint"]?.stringValue,
                    let process = item["process"].flatMap(IdentityFile.process), case .bool(let alive)? = item["alive"]
                else { continue }
                holders.append(Holder(lockName: lock, fingerprint: fingerprint, process: process, isAlive: alive))
            }
        }
        var waiters: [Waiter] = []
        if case .array(let list)? = value["waiters"] {
            for item in list.prefix(Self.maximumEntries) {
                guard let lock = item["lock"]?.stringValue, let process = item["process"].flatMap(IdentityFile.process),
                    let since = IdentityFile.time(item["since"])
                else { continue }
                waiters.append(Waiter(lockName: lock, process: process, since: since))
            }
        }
        self.holders = holders
        self.waiters = waiters
    }

    /// This host's boot id, empty when it cannot be read.
    public static func currentBootID() -> String {
        let bytes = ((try? FileSystem.readFile("/proc/sys/kernel/random/boot_id", limit: 64)) ?? nil) ?? []
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
