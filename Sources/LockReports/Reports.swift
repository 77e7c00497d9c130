import Foundation
import LockMonitor
import RecordStore

/// Text and JSON renderings of the monitor's model for the CLI. No terminal code.
public enum Reports {
    /// An ISO 8601 timestamp in UTC with microseconds.
    public static func isoTime(_ date: Date) -> String {
        PrefectTimestamp.format(date, separator: "T")
    }

    /// The version of every JSON document locktop writes; field names are documented in docs/json.md.
    /// 2: `stale` means proven dead, age alone makes `suspect`; `verdict` and `blocked_waiters` came.
    public static let schemaVersion = 2

    /// One testimony of a verdict's `evidence`.
    static func testimonyJSON(_ testimony: LivenessTestimony) -> JSONValue {
        .object([
            "source": .string(testimony.source.rawValue), "verdict": .string(testimony.verdict.rawValue),
            "observed_at": .string(isoTime(testimony.observedAt)), "reason": .string(testimony.reason),
        ])
    }

    /// The JSON object of one lock, as `list --json` writes it.
    /// `records` are the keys that map to its lock file.
    public static func lockJSON(
        _ lock: LockEntry, classification: LockClassification, identity: LockIdentity, records: [String],
        statistics: ContentionStatistics?, now: Date
    ) -> [(key: String, value: JSONValue)] {
        let holder = lock.holder
        let expiration = lock.content?.expiration
        var members: [(key: String, value: JSONValue)] = [
            ("key", .string(lock.key)),
            ("lock_file", .string(lock.path)),
            ("holder", holder.map { .string($0.rawValue) } ?? .null),
            ("expiration", expiration.map { .string(isoTime($0)) } ?? .null),
            (
                "expires_in_seconds",
                expiration.map { .number((($0.timeIntervalSince(now)) * 1000).rounded() / 1000) } ?? .null
            ),
            ("acquired", .string(isoTime(lock.acquired))),
            ("held_for_seconds", .number((now.timeIntervalSince(lock.acquired) * 1000).rounded() / 1000)),
            ("state", .string(classification.state.rawValue)),
            ("verdict", .string(classification.verdictName)),
            ("reason", .string(classification.reason)),
            ("liveness", .string(classification.liveness.rawValue)),
            ("blocked_waiters", .number(Double(classification.blockedWaiters))),
            ("identity_source", .string(classification.identitySource.rawValue)),
            ("host", (classification.holderHost ?? identity.holderProcess?.hostName).map(JSONValue.string) ?? .null),
            ("judged_by", .string(classification.judgedBy.rawValue)),
            ("evidence", .array(classification.evidence.map(testimonyJSON))),
            (
                "holder_process",
                identity.holderProcess.map { process in
                    .object([
                        "pid": .number(Double(process.processID)), "host": .string(process.hostName),
                        "command": .string(process.command),
                        "start_time": process.startTime.map { .string(isoTime($0)) } ?? .null,
                        "alive": .bool(classification.liveness == .alive),
                        "flow_run_id": process.flowRunID.map(JSONValue.string) ?? .null,
                    ])
                } ?? .null
            ),
            (
                "waiters",
                .array(
                    identity.waiters.map { waiter in
                        .object([
                            "pid": .number(Double(waiter.process.processID)),
                            "command": .string(waiter.process.command),
                            "since": .string(isoTime(waiter.since)),
                        ])
                    })
            ),
            ("records", .array(records.map(JSONValue.string))),
            ("shared", .bool(records.count > 1)),
        ]
        if let holder, holder.hasProcessForm {
            members.append(("holder_host", holder.hostName.map(JSONValue.string) ?? .null))
            members.append(("holder_pid", holder.processID.map { .number(Double($0)) } ?? .null))
            members.append(("holder_thread", holder.threadName.map(JSONValue.string) ?? .null))
        }
        if let run = PrefectRun(content: lock.content, process: identity.holderProcess) {
            func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
            members.append(
                (
                    "prefect",
                    .object([
                        "task_name": text(run.taskName), "task_run_name": text(run.taskRunName),
                        "task_run_id": text(run.taskRunID), "flow_run_name": text(run.flowRunName),
                        "flow_run_id": text(run.flowRunID),
                    ])
                ))
        }
        if lock.isSymbolicLink { members.append(("symlink", .bool(true))) }
        if lock.nameIsEscaped { members.append(("name_escaped", .bool(true))) }
        if let statistics, statistics.acquisitions > 0 || !statistics.openTimes.isEmpty {
            members.append(("acquisitions", .number(Double(statistics.acquisitions))))
            members.append(("hand_offs", .number(Double(statistics.handOffs))))
            members.append(("poll_rate", .number(statistics.pollRate(now: now))))
        }
        return members
    }

    /// The whole `list --json` document, handed to `write` piece by piece: the locks of `snapshot`
    /// (a ``DirectorySnapshot/scanLocks(recordsDirectory:locksDirectory:statting:)``) and the
    /// records of its statted `records` listing, streamed in directory order.
    public static func writeListJSON(
        snapshot: DirectorySnapshot, records: RecordListing, classify: (LockEntry) -> LockClassification,
        identify: (LockEntry) -> LockIdentity, auditLog: String, includeSummaries: Bool, now: Date,
        to write: ([UInt8]) -> Void
    ) {
        var output = [UInt8]()
        output.append(contentsOf: Array(#"{"schema": \#(schemaVersion), "records_directory": "#.utf8))
        JSONValue.encodeString(snapshot.recordsDirectory, into: &output)
        output.append(contentsOf: Array(#", "locks_directory": "#.utf8))
        JSONValue.encodeString(snapshot.locksDirectory, into: &output)
        output.append(contentsOf: Array(#", "audit_log": "#.utf8))
        JSONValue.encodeString(auditLog, into: &output)
        output.append(contentsOf: Array(#", "generated": "#.utf8))
        JSONValue.encodeString(isoTime(now), into: &output)
        output.append(contentsOf: Array(",\n\"records\": [".utf8))
        write(output)
        records.writeJSON(includeSummaries: includeSummaries, to: write)
        output = Array("],\n\"locks\": [".utf8)
        let keys = records.keys(forLocks: snapshot.locks.keys)
        for (index, lock) in snapshot.locks.values.sorted(by: { $0.name < $1.name }).enumerated() {
            output.append(contentsOf: index > 0 ? [0x2C, 0x0A] : [0x0A])
            JSONValue.encodeObject(
                lockJSON(
                    lock, classification: classify(lock), identity: identify(lock), records: keys[lock.name] ?? [],
                    statistics: nil, now: now), into: &output)
        }
        output.append(contentsOf: Array("]}\n".utf8))
        write(output)
    }

    /// The countdown to `expiration`: `42s`, `3m05s`, `expired 12s ago`, or `never`.
    public static func countdown(to expiration: Date?, now: Date) -> String {
        guard let expiration else { return "never" }
        let remaining = expiration.timeIntervalSince(now)
        return remaining >= 0
            ? DurationText.format(remaining.rounded(.up)) : "expired \(DurationText.format(-remaining)) ago"
    }

    /// The holder as a table shows it: `host/pid` for the `host:pid:...` form, else the whole string.
    public static func shortHolder(_ holder: LockHolder?) -> String {
        guard let holder else { return "-" }
        if let host = holder.hostName, let pid = holder.processID { return "\(host)/\(pid)" }
        return holder.rawValue
    }

    /// A file's device (`major:minor`) and inode, as `stat -c '%Hd:%Ld %i'` gives them.
    static func fileJSON(_ file: FileKey) -> JSONValue {
        .object(["device": .string("\(file.major):\(file.minor)"), "inode": .number(Double(file.inode))])
    }

    /// A deadlock's cycle: each lock, with its holder, who waits for the next one's lock.
    public static func deadlockJSON(_ deadlock: WaitForGraph.Deadlock) -> JSONValue {
        .array(
            deadlock.links.map { link in
                .object([
                    "key": .string(RecordKey.shownKey(ofLockName: link.lockName)),
                    "holder_pid": .number(Double(link.holderProcessID)), "holder_command": .string(link.holderCommand),
                ])
            })
    }

    /// One event as a JSON line (with its newline); `source` names the directory or server it
    /// came from, where one stream carries several (`serve`'s).
    public static func eventJSONLine(_ event: MonitorEvent, source: String? = nil) -> [UInt8] {
        var members: [(key: String, value: JSONValue)] = [
            ("schema", .number(Double(schemaVersion))), ("time", .string(isoTime(event.time))),
            ("type", .string(event.kind.rawValue)),
            ("key", .string(event.key)),
        ]
        if let source { members.append(("source", .string(source))) }
        if let holder = event.holder { members.append(("holder", .string(holder))) }
        if let previous = event.previousHolder { members.append(("previous_holder", .string(previous))) }
        if let detail = event.detail { members.append(("detail", .string(detail))) }
        if let reason = event.reason { members.append(("reason", .string(reason))) }
        if let brokenBy = event.brokenBy { members.append(("broken_by", .string(brokenBy))) }
        if let processID = event.processID { members.append(("pid", .number(Double(processID)))) }
        if let host = event.hostName { members.append(("host", .string(host))) }
        if event.carriesExpiration {
            members.append(("expires_at", event.expiresAt.map { .string(isoTime($0)) } ?? .null))
        }
        if let held = event.heldSeconds { members.append(("held_seconds", .number((held * 1000).rounded() / 1000))) }
        if let waited = event.waitedSeconds {
            members.append(("waited_seconds", .number((waited * 1000).rounded() / 1000)))
        }
        if let tookLock = event.tookLock { members.append(("took_lock", .bool(tookLock))) }
        if let deadlock = event.deadlock {
            members.append(("certain", .bool(deadlock.isCertain)))
            members.append(("cycle", deadlockJSON(deadlock)))
        }
        if let replacement = event.replacement {
            members.append(("old_directory", fileJSON(replacement.old)))
            members.append(("new_directory", replacement.new.map(fileJSON) ?? .null))
            members.append(("new_is_symlink", .bool(replacement.isSymbolicLink)))
        }
        var output = [UInt8]()
        JSONValue.encodeObject(members, into: &output)
        output.append(0x0A)
        return output
    }

    /// What a lock is called where people read it: the record keys that map to its file
    /// (`task.b,task.c` for `task.lock`), else its key. The dashboard's rows and the event lines
    /// name a lock alike.
    public static func lockTitle(key: String, records: [String]) -> String {
        records.isEmpty || records == [key] ? key : records.joined(separator: ",")
    }

    /// One event as a human line (with its newline).
    public static func eventText(_ event: MonitorEvent) -> String {
        TerminalText.escaped(
            "\(isoTime(event.time)) \(event.kind.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(eventSummary(event))"
        ) + "\n"
    }

    /// What an event says after its time and type, the same in `events` and the dashboard's log:
    /// `orders  by H  was P  broken by B  (reason)  detail`. Not escaped.
    public static func eventSummary(_ event: MonitorEvent) -> String {
        var text = lockTitle(key: event.key, records: event.records)
        if let holder = event.holder { text += "  by \(holder)" }
        if let previous = event.previousHolder { text += "  was \(previous)" }
        if let brokenBy = event.brokenBy { text += "  broken by \(brokenBy)" }
        if let reason = event.reason { text += "  (\(reason))" }
        // A stale or suspect event's detail is its reason: said once.
        if let detail = event.detail, detail != event.reason { text += "  \(detail)" }
        return text
    }

    /// One operator outcome as a JSON object.
    public static func outcomeJSON(_ outcome: LockOperationOutcome) -> [(key: String, value: JSONValue)] {
        [
            ("action", .string(outcome.action.rawValue)),
            ("key", .string(outcome.lock.key)),
            ("lock_file", .string(outcome.lock.path)),
            ("holder", outcome.lock.content.map { .string($0.holder) } ?? .null),
            ("expiration", outcome.lock.content?.expiration.map { .string(isoTime($0)) } ?? .null),
            ("state", .string(outcome.classification.state.rawValue)),
            ("verdict", .string(outcome.classification.verdictName)),
            ("reason", .string(outcome.classification.reason)),
        ]
    }

    /// One operator outcome as a human line.
    public static func outcomeText(_ outcome: LockOperationOutcome) -> String {
        let verb: String
        switch outcome.action {
        case .released: verb = "released"
        case .broken: verb = "broke"
        case .wouldBreak: verb = "would break"
        case .wouldRelease: verb = "would release"
        }
        let holder = outcome.lock.content.map { ", holder \(TerminalText.escaped($0.holder))" } ?? ""
        let why = "\(outcome.classification.label), \(TerminalText.escaped(outcome.classification.reason))"
        return
            "\(verb) \(TerminalText.escaped(outcome.lock.key)) (\(TerminalText.escaped(outcome.lock.path))): \(why)\(holder)"
    }
}
