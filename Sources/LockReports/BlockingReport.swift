import Foundation
import LockMonitor
import RecordStore

/// `list --blocking`: the blocking tree (``WaitForGraph/blockingTree(at:)``) as text, drawn as
/// `lsblk` draws its tree, or as JSON (docs/json.md). Commands and names are escaped.
public enum BlockingReport {
    /// The tree's lines, without colour.
    public static func lines(_ tree: [WaitForGraph.Blocker], now: Date) -> [String] {
        guard !tree.isEmpty else { return ["no process is seen waiting for a lock"] }
        var lines: [String] = []
        func add(_ blocker: WaitForGraph.Blocker, prefix: String, branch: String) {
            let key = RecordKey.shownKey(ofLockName: blocker.lockName)
            let holder = "pid \(blocker.holder.processID) \(TerminalText.escaped(blocker.holder.command))"
            let waiters = blocker.waiters.count == 1 ? "1 waiter" : "\(blocker.waiters.count) waiters"
            lines.append(
                prefix + branch + "\(TerminalText.escaped(key))  held by \(holder)"
                    + liveness(blocker.holderLiveness)
                    + " · \(waiters), \(DurationText.format(blocker.totalWaited)) waited in all")
            let inner = prefix + (branch == "└─ " ? "   " : branch.isEmpty ? "" : "│  ")
            for (index, blocked) in blocker.waiters.enumerated() {
                let last = index == blocker.waiters.count - 1
                let waited = DurationText.format(max(0, now.timeIntervalSince(blocked.waiter.since)))
                lines.append(
                    inner + (last ? "└─ " : "├─ ") + "pid \(blocked.waiter.process.processID) "
                        + "\(TerminalText.escaped(blocked.waiter.process.command)), waiting \(waited)")
                for (holdIndex, held) in blocked.holds.enumerated() {
                    add(
                        held, prefix: inner + (last ? "   " : "│  "),
                        branch: holdIndex == blocked.holds.count - 1 ? "└─ " : "├─ ")
                }
            }
        }
        for blocker in tree { add(blocker, prefix: "", branch: "") }
        return lines
    }

    /// What the text says of a holder: nothing when alive.
    static func liveness(_ liveness: Liveness) -> String {
        switch liveness {
        case .alive: ""
        case .dead, .reused: " (dead)"
        case .unknown: " (not known alive)"
        }
    }

    /// The tree as JSON: `{"schema", "generated", "blocking": [lock, ...]}`.
    public static func json(_ tree: [WaitForGraph.Blocker], now: Date) -> [UInt8] {
        func object(_ blocker: WaitForGraph.Blocker) -> JSONValue {
            .object([
                "key": .string(RecordKey.shownKey(ofLockName: blocker.lockName)),
                "holder": .object([
                    "pid": .number(Double(blocker.holder.processID)), "command": .string(blocker.holder.command),
                    "liveness": .string(blocker.holderLiveness.rawValue),
                ]),
                "total_waited_seconds": .number((blocker.totalWaited * 1000).rounded() / 1000),
                "waiters": .array(
                    blocker.waiters.map { blocked in
                        .object([
                            "pid": .number(Double(blocked.waiter.process.processID)),
                            "command": .string(blocked.waiter.process.command),
                            "since": .string(Reports.isoTime(blocked.waiter.since)),
                            "waiting_seconds": .number(
                                (max(0, now.timeIntervalSince(blocked.waiter.since)) * 1000).rounded() / 1000),
                            "holds": .array(blocked.holds.map(object)),
                        ])
                    }),
            ])
        }
        var output: [UInt8] = []
        JSONValue.encodeObject(
            [
                ("schema", .number(Double(Reports.schemaVersion))), ("generated", .string(Reports.isoTime(now))),
                ("blocking", .array(tree.map(object))),
            ], into: &output)
        return output + [0x0A]
    }
}
