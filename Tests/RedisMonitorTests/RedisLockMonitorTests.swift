import Foundation
import LocktopTestSupport
import XCTest

@testable import LockMonitor
@testable import RecordStore
@testable import RedisMonitor
@testable import RedisStore

/// The Redis monitor against a real redis-server: notifications, polling, breaks, restarts.
final class RedisLockMonitorTests: XCTestCase {
    var directory = ""

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
    }

    func makeMonitor(_ server: RedisServer, enables: Bool = false) throws -> RedisLockMonitor {
        try RedisLockMonitor(
            configuration: .init(
                url: RedisURL(server.url()), auditLog: AuditLog(path: "\(directory)/audit.log"),
                enablesNotifications: enables, pollInterval: 0.2, timeout: 1),
            firstSeen: FirstSeenLedger(path: "\(directory)/first-seen.json"))
    }

    func client(_ server: RedisServer) throws -> RedisConnection {
        try RedisConnection(url: RedisURL(server.url()))
    }

    /// Appends the audit line that a break of `lockFile` (key `k`) by `root@vm:1` writes.
    func logBreak(of lockFile: String, heldBy holder: String, reason: String) throws {
        try AuditLog(path: "\(directory)/audit.log").append(
            AuditLog.Entry(
                time: Date(), brokenBy: "root@vm:1", key: "k", lockFile: lockFile, oldHolder: holder,
                oldExpiration: nil, reason: reason))
    }

    /// Turns `monitor`'s loop until `done` holds of the events seen, for at most `timeout` seconds.
    func events(_ monitor: RedisLockMonitor, timeout: TimeInterval = 5, until done: ([MonitorEvent]) -> Bool)
        -> [MonitorEvent]
    {
        let loop = MonitorLoop(source: monitor)
        var seen: [MonitorEvent] = []
        let deadline = Date().addingTimeInterval(timeout)
        while !done(seen) && Date() < deadline { seen += loop.turn(timeout: 0.1).events }
        return seen
    }

    func testNotificationsReportEachChangeAndABreakByLocktopIsBroken() throws {
        let server = try RedisServer(for: self, arguments: ["--notify-keyspace-events", "K$gx"])
        let redis = try client(server)
        _ = try redis.command(["SET", "lock:old", "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11"])
        let monitor = try makeMonitor(server)
        XCTAssertEqual(monitor.mode, .notifications)
        XCTAssertNil(monitor.notice)
        XCTAssertEqual(Array(monitor.locks.keys), ["old.lock"])
        XCTAssertEqual(monitor.descriptors.count, 1, "the subscription is polled")

        _ = try redis.command(["SET", "lock:task.b", "worker-1", "NX"])
        let acquired = events(monitor) { $0.contains { $0.kind == .acquired } }
        XCTAssertEqual(acquired.map(\.kind), [.acquired])
        XCTAssertEqual([acquired.first?.key, acquired.first?.holder], ["task.b", "worker-1"])
        XCTAssertTrue(monitor.takeChanges().locks.contains("task.b.lock"))

        _ = try redis.command(["DEL", "lock:task.b"])
        let released = events(monitor) { $0.contains { $0.kind == .released } }
        XCTAssertEqual(
            released.map(\.kind), [.released], "a delete with no audit line is a release, once the line had its moment")
        XCTAssertEqual(released.first?.previousHolder, "worker-1")

        let lockOperator = try XCTUnwrap(
            monitor.makeOperator(breaker: LockBreaker(auditLog: AuditLog(path: "\(directory)/audit.log"))))
        let old = try XCTUnwrap(monitor.locks["old.lock"])
        _ = try lockOperator.breakLock(
            old, classification: monitor.classification(of: old), authority: .forced, dryRun: false)
        let broken = events(monitor) { $0.contains { $0.kind == .broken } }
        XCTAssertEqual(broken.map(\.kind), [.broken])
        XCTAssertEqual(broken.first?.reason, "forced: held: holder process unknown")
        XCTAssertTrue(broken.first?.brokenBy?.contains("@") == true, "\(String(describing: broken.first?.brokenBy))")
        XCTAssertTrue(monitor.locks.isEmpty)

        _ = try redis.command(["SET", "lock:leased", "web-1:1:1:T", "PX", "300"])
        let expired = events(monitor) { $0.contains { $0.kind == .released } }
        XCTAssertEqual(expired.map(\.kind), [.acquired, .released], "Redis expired the key")
        XCTAssertTrue(
            expired.last?.detail?.contains("its TTL ran out: Redis expired it") == true,
            "\(String(describing: expired.last?.detail))")
        XCTAssertEqual(expired.last?.previousHolder, "web-1:1:1:T")
    }

    /// Found by the soak: a break deletes, then logs, and a waiter took the key in between.
    func testABreakWhoseLineComesAfterANewHolderTookTheKeyIsStillBrokenLate() throws {
        let server = try RedisServer(for: self)
        let redis = try client(server)
        _ = try redis.command(["SET", "lock:k", "token-a"])
        let monitor = try makeMonitor(server)
        let path = try XCTUnwrap(monitor.locks["k.lock"]?.entry.path)
        _ = try redis.command(["DEL", "lock:k"])
        _ = try redis.command(["SET", "lock:k", "token-b"])
        let handOff = events(monitor) { $0.contains { $0.kind == .acquired } }
        XCTAssertEqual(handOff.map(\.kind), [.released, .acquired], "no line yet: a release, for now")
        try logBreak(of: path, heldBy: "token-a", reason: "forced: held: holder process unknown")
        let late = events(monitor) { $0.contains { $0.kind == .broken } }
        XCTAssertEqual(late.map(\.kind), [.broken])
        XCTAssertEqual(late.first?.previousHolder, "token-a")
        XCTAssertEqual(late.first?.brokenBy, "root@vm:1")

        _ = try redis.command(["DEL", "lock:k"])
        _ = try redis.command(["SET", "lock:k", "token-c"])
        let plain = events(monitor, timeout: 2) { _ in false }
        XCTAssertEqual(plain.map(\.kind), [.released, .acquired], "a release with no line stays one")
    }

    func testABreakWhoseLineComesAfterTwoQuickHandOffsIsStillBrokenLate() throws {
        // Notifications: each hand-off is read as it comes, well within the second the line may take.
        let server = try RedisServer(for: self, arguments: ["--notify-keyspace-events", "K$gx"])
        let redis = try client(server)
        _ = try redis.command(["SET", "lock:k", "token-a"])
        let monitor = try makeMonitor(server)
        let path = try XCTUnwrap(monitor.locks["k.lock"]?.entry.path)
        for (old, new) in [("token-a", "token-b"), ("token-b", "token-c")] {
            _ = try redis.command(["DEL", "lock:k"])
            _ = try redis.command(["SET", "lock:k", new])
            let handOff = events(monitor) { $0.contains { $0.kind == .acquired } }
            XCTAssertEqual(handOff.map(\.kind), [.released, .acquired], "\(old) → \(new): no line yet")
        }
        try logBreak(of: path, heldBy: "token-a", reason: "stale: holder process 7 is gone")
        let late = events(monitor) { $0.contains { $0.kind == .broken } }
        XCTAssertEqual(late.map(\.kind), [.broken], "the second hand-off must not hide the first one's break")
        XCTAssertEqual(late.first?.previousHolder, "token-a")
    }

    func testWithoutNotificationsItPollsAndSaysSoAndEnablingMergesTheFlags() throws {
        let server = try RedisServer(for: self, arguments: ["--notify-keyspace-events", "E"])
        let monitor = try makeMonitor(server)
        XCTAssertEqual(monitor.mode, .polling(interval: 0.2))
        XCTAssertTrue(
            monitor.notice?.contains("keyspace notifications are off (notify-keyspace-events=\"E\")") == true,
            monitor.notice ?? "")
        XCTAssertTrue(monitor.descriptors.isEmpty)
        _ = try client(server).command(["SET", "lock:k", "h"])
        XCTAssertEqual(events(monitor) { !$0.isEmpty }.map(\.kind), [.acquired], "found by the next poll")

        let enabled = try makeMonitor(server, enables: true)
        XCTAssertEqual(enabled.mode, .notifications)
        let flags = try client(server).command(["CONFIG", "GET", "notify-keyspace-events"]).elements?.last?.text ?? ""
        XCTAssertEqual(Set(flags), Set("EK$gx"), "merged with the server's E, not replacing it")
        XCTAssertEqual(RedisLockMonitor.merged("AKE"), "AKE")
        XCTAssertTrue(RedisLockMonitor.notifies("KA"))
        XCTAssertFalse(RedisLockMonitor.notifies("K$g"))
    }

    func testAServerThatGoesAwayIsReportedAndTheMonitorComesBackWithIt() throws {
        let server = try RedisServer(for: self, arguments: ["--notify-keyspace-events", "K$gx"])
        _ = try client(server).command(["SET", "lock:kept", "h1"])
        let monitor = try makeMonitor(server)
        server.stop()
        let lost = events(monitor) { $0.contains { $0.kind == .disconnected } }
        XCTAssertEqual(lost.map(\.kind), [.disconnected])
        XCTAssertTrue(
            lost.first?.detail?.contains("reconnecting in 1s") == true, "\(String(describing: lost.first?.detail))")
        XCTAssertEqual(monitor.watchText, "redis, reconnecting")
        XCTAssertEqual(Array(monitor.locks.keys), ["kept.lock"], "the last known locks stay shown")
        try server.start()
        _ = try client(server).command(["SET", "lock:new", "h2"])
        let back = events(monitor, timeout: 10) { $0.contains { $0.kind == .released } }
        XCTAssertEqual(
            back.map(\.kind), [.reconnected, .acquired, .released],
            "new came; kept is gone (a restart without persistence)")
        XCTAssertEqual(monitor.mode, .notifications)
        _ = try client(server).command(["SET", "lock:after", "h3"])
        XCTAssertEqual(events(monitor) { !$0.isEmpty }.map(\.key), ["after"], "subscribed again")
    }

    func testAServerThatStopsAnsweringShowsWithinTwoTicksAndIsDroppedAtTheCallTimeout() throws {
        let server = try RedisServer(for: self, arguments: ["--notify-keyspace-events", "K$gx"])
        let monitor = try RedisLockMonitor(
            configuration: .init(
                url: RedisURL(server.url()), auditLog: AuditLog(path: "\(directory)/audit.log"), timeout: 4),
            firstSeen: FirstSeenLedger(path: "\(directory)/first-seen.json"))
        func turn(for seconds: TimeInterval) -> [MonitorEvent] {
            var seen: [MonitorEvent] = []
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                seen += monitor.tick() + monitor.processChanges()
                usleep(100_000)
            }
            return seen
        }
        _ = turn(for: 0.5)
        XCTAssertNil(monitor.unansweredFor, "a server that answers its PINGs")
        let pid = try XCTUnwrap(server.processID)
        XCTAssertEqual(kill(pid, SIGSTOP), 0)
        defer { kill(pid, SIGCONT) }
        XCTAssertEqual(turn(for: 2.2).map(\.kind), [], "not yet gone")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(monitor.unansweredFor, "not answering, within the call timeout"), 1.5)
        XCTAssertEqual(kill(pid, SIGCONT), 0)
        _ = turn(for: 0.5)
        XCTAssertNil(monitor.unansweredFor, "answering again")
        XCTAssertEqual(kill(pid, SIGSTOP), 0)
        let lost = turn(for: 5)
        XCTAssertEqual(lost.map(\.kind), [.disconnected], "dropped once a PING waits past the 4 s timeout")
    }
}
