import Foundation
import LockMonitor
import RecordStore

@testable import Dashboard

/// A fixed dashboard scene: every state, a shared lock file, a record without a lock, events.
enum Fixtures {
    static let now = Date(timeIntervalSince1970: 1_795_636_126)

    static func rows() -> [LockRow] {
        var busy = ContentionStatistics()
        busy.recordAcquisition(holder: "a", at: now.addingTimeInterval(-30))
        busy.recordRelease(holder: "a", acquired: now.addingTimeInterval(-30), at: now.addingTimeInterval(-28))
        busy.recordAcquisition(holder: "b", at: now.addingTimeInterval(-27.5))
        return [
            LockRow(
                id: .lock("task.lock"), key: "task", lockName: "task.lock", state: .held,
                reason: "holder pid 4242 is alive",
                holder: LockHolder("web-1:4242:139872:MainThread"), liveness: .alive,
                expiration: now.addingTimeInterval(185),
                since: now.addingTimeInterval(-27), records: ["task.b", "task.c"], shared: true, pollRate: 12,
                lockBytes: Array(
                    #"{"holder": "web-1:4242:139872:MainThread", "expiration": "2026-11-25 19:51:51.000000+00:00"}"#
                        .utf8),
                holderProcessID: 4242,
                statistics: busy),
            LockRow(
                id: .lock("old.lock"), key: "old", lockName: "old.lock", state: .expired, reason: "expired 12s ago",
                holder: LockHolder("8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11"), liveness: .unknown,
                expiration: now.addingTimeInterval(-12), since: now.addingTimeInterval(-300), records: ["old"],
                lockBytes: Array(
                    #"{"holder": "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11", "expiration": "2026-11-25 19:48:34.000000+00:00"}"#
                        .utf8)),
            LockRow(
                id: .lock("crashed.lock"), key: "crashed", lockName: "crashed.lock", state: .stale,
                reason: "holder pid 777 (python flow.py --run) died 1m05s ago",
                holder: LockHolder("3f2a9c1e-8d7b-4e55-a1c0-5b6d7e8f9a01"), liveness: .dead,
                since: now.addingTimeInterval(-3700),
                holderProcess: ProcessDetails(
                    processID: 777, hostName: "web-1", startTicks: 1234,
                    command: "/usr/bin/python flow.py --run nightly",
                    user: "etl", startTime: now.addingTimeInterval(-3800), flowRunID: "0b7c2d4e-flow-run"),
                identitySource: .fanotify,
                waiters: [801, 802].map { pid in
                    IdentityLedger.Waiter(
                        process: ProcessDetails(
                            processID: pid, hostName: "web-1", startTicks: 99, command: "python flow.py --run nightly"),
                        since: now.addingTimeInterval(-210 + Double(pid - 801) * 30), lastSeen: now, reads: 30)
                }, countsWaiters: true, blocksWaiters: true),
            LockRow(
                id: .lock("garbled.lock"), key: "garbled", lockName: "garbled.lock", state: .unreadable,
                reason: "empty for 45s",
                since: now.addingTimeInterval(-45)),
            LockRow(
                id: .lock("fresh.lock"), key: "fresh", lockName: "fresh.lock", state: .writing,
                reason: "empty or partial, probably being written",
                since: now.addingTimeInterval(-0.5)),
            LockRow(
                id: .record("idle-result"), key: "idle-result", lockName: nil, state: nil, reason: "no lock",
                since: now.addingTimeInterval(-86_400), records: ["idle-result"]),
        ]
    }

    static func data() -> DashboardData {
        DashboardData(
            recordsDirectory: "/srv/prefect/records", locksDirectory: "/srv/prefect/records", watch: "inotify",
            rows: rows(), recordCount: 5, lockCount: 5)
    }

    static func events() -> [MonitorEvent] {
        [
            MonitorEvent(
                time: now.addingTimeInterval(-28), kind: .released, key: "task", previousHolder: "a", detail: "held 2s"),
            MonitorEvent(
                time: now.addingTimeInterval(-27.5), kind: .acquired, key: "task",
                holder: "web-1:4242:139872:MainThread"),
            MonitorEvent(
                time: now.addingTimeInterval(-12), kind: .expired, key: "old",
                holder: "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11"),
        ]
    }

    static func state(width: Int = 120, height: Int = 35, readOnly: Bool = false) -> DashboardState {
        var state = DashboardState(data: data(), now: now, width: width, height: height, isReadOnly: readOnly)
        _ = DashboardReducer.reduce(&state, .events(events()))
        return state
    }
}
