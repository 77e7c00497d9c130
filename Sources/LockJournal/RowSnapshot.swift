import Dashboard
import Foundation
import LockMonitor
import RecordStore

/// A lock row as the journal keeps it: what the table, the detail pane and the blocking tree show
/// of it, without what moves on its own (durations are kept as instants). Recorded whenever it
/// changes; `replay` rebuilds the row from it.
public struct RowSnapshot: Codable, Equatable, Sendable {
    /// A process: a holder or a waiter.
    /// In the journal, a process is its pid and `ref`, a row of its `processes` table: a command
    /// line is kept once, not in every row state that names it.
    public struct Process: Codable, Hashable, Sendable {
        public var pid: Int32
        public var host: String?
        public var command: String?
        public var uid: UInt32?
        public var startTicks: UInt64?
        /// Its row in the journal's `processes` table, where host, command, uid and start ticks are.
        var ref: Int64?

        init(_ process: ProcessDetails) {
            pid = process.processID
            host = process.hostName
            command = process.command
            uid = process.uid
            startTicks = process.startTicks
        }

        var details: ProcessDetails {
            var process = ProcessDetails(
                processID: pid, hostName: host ?? "?", startTicks: startTicks, command: command ?? "?")
            process.uid = uid
            return process
        }

        /// This process as the journal stores it: its pid and `ref`.
        func stored(as ref: Int64) -> Process {
            var stored = self
            stored.ref = ref
            (stored.host, stored.command, stored.uid, stored.startTicks) = (nil, nil, nil, nil)
            return stored
        }

        /// This process with what its `ref` names; a ref the journal does not hold is left as it is.
        func resolved(_ processes: [Int64: Process]) -> Process {
            guard let ref, let full = processes[ref], full.pid == pid else { return self }
            return full
        }
    }

    /// This snapshot as the journal stores it: each process replaced by `ref(process)`.
    func stored<Failure: Error>(_ ref: (Process) throws(Failure) -> Int64) throws(Failure) -> RowSnapshot {
        var stored = self
        if let holder = holderProcess { stored.holderProcess = holder.stored(as: try ref(holder)) }
        for index in stored.waiters.indices {
            stored.waiters[index].process = waiters[index].process.stored(as: try ref(waiters[index].process))
        }
        return stored
    }

    /// This snapshot with its processes filled in from the journal's `processes`.
    func resolved(_ processes: [Int64: Process]) -> RowSnapshot {
        var resolved = self
        resolved.holderProcess = holderProcess?.resolved(processes)
        for index in resolved.waiters.indices {
            resolved.waiters[index].process = waiters[index].process.resolved(processes)
        }
        return resolved
    }

    /// A waiter: who, and since when.
    public struct Waiter: Codable, Equatable, Sendable {
        public var process: Process
        public var since: Date
        public var holdsTheLock: Bool
    }

    public var key: String
    public var lockName: String
    public var state: String
    public var reason: String
    public var holder: String?
    public var liveness: String?
    public var expiration: Date?
    public var since: Date?
    public var records: [String]
    public var holderPID: Int32?
    public var holderProcess: Process?
    public var identitySource: String
    public var waiters: [Waiter]
    public var countsWaiters: Bool
    public var blocksWaiters: Bool
    public var flowRunName: String?

    /// The snapshot of a lock `row` that is there; nil for a record's row or a released lock's.
    public init?(_ row: LockRow) {
        guard let lockName = row.lockName, let state = row.state, row.releasedAt == nil else { return nil }
        key = row.key
        self.lockName = lockName
        self.state = state.rawValue
        reason = row.reason
        holder = row.holder?.rawValue
        liveness = row.liveness?.rawValue
        expiration = row.expiration
        since = row.since
        records = row.records
        holderPID = row.holderProcessID
        holderProcess = row.holderProcess.map(Process.init)
        identitySource = row.identitySource.rawValue
        waiters = row.waiters.map {
            Waiter(process: Process($0.process), since: $0.since, holdsTheLock: $0.holdsTheLock)
        }
        countsWaiters = row.countsWaiters
        blocksWaiters = row.blocksWaiters
        flowRunName = row.prefectRun?.flowRunName
    }

    /// Whether `other` shows the same as this one: the reason aside, whose words move with the clock.
    public func showsTheSame(as other: RowSnapshot) -> Bool {
        var other = other
        other.reason = reason
        return other == self
    }

    /// The row it was: what a replay shows. A state it does not know is `unreadable`: a journal
    /// from elsewhere decides nothing.
    public var row: LockRow {
        LockRow(
            id: .lock(lockName), key: key, lockName: lockName, state: LockState(rawValue: state) ?? .unreadable,
            reason: reason, holder: holder.map(LockHolder.init), liveness: liveness.flatMap(Liveness.init(rawValue:)),
            expiration: expiration, since: since, records: records, shared: records.count > 1,
            holderProcessID: holderPID, holderProcess: holderProcess?.details,
            identitySource: IdentitySource(rawValue: identitySource) ?? .none,
            waiters: waiters.map {
                IdentityLedger.Waiter(
                    process: $0.process.details, since: $0.since, lastSeen: $0.since, reads: 0,
                    holdsTheLock: $0.holdsTheLock)
            },
            countsWaiters: countsWaiters, prefectRun: flowRunName.map { PrefectRun(flowRunName: $0) },
            blocksWaiters: blocksWaiters)
    }

    /// The JSON the journal holds.
    var encoded: String {
        (try? Self.encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Decodes the journal's JSON; nil when it is not a snapshot.
    init?(encoded: String) {
        guard let snapshot = try? Self.decoder.decode(RowSnapshot.self, from: Data(encoded.utf8)) else { return nil }
        self = snapshot
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = .withoutEscapingSlashes
        return encoder
    }()
    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }()
}

/// A deadlock's cycle as the journal keeps it.
struct DeadlockSnapshot: Codable {
    struct Link: Codable {
        var lock: String
        var pid: Int32
        var command: String
    }

    var links: [Link]

    init(_ deadlock: WaitForGraph.Deadlock) {
        links = deadlock.links.map { Link(lock: $0.lockName, pid: $0.holderProcessID, command: $0.holderCommand) }
    }

    init?(encoded: String) {
        guard let snapshot = try? JSONDecoder().decode(DeadlockSnapshot.self, from: Data(encoded.utf8)) else {
            return nil
        }
        self = snapshot
    }

    var encoded: String { (try? JSONEncoder().encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}" }

    func deadlock(isCertain: Bool) -> WaitForGraph.Deadlock {
        WaitForGraph.Deadlock(
            links: links.map {
                WaitForGraph.Deadlock.Link(lockName: $0.lock, holderProcessID: $0.pid, holderCommand: $0.command)
            }, isCertain: isCertain)
    }
}
