import Dashboard
import DashboardSources
import Foundation
import LockMonitor
import LocktopTestSupport
import RecordStore
import RedisMonitor
import RedisStore
import XCTest

/// The whole dashboard loop on a real directory, through an in-memory backend instead of a terminal.
final class DashboardSessionTests: XCTestCase {
    var directory = ""
    var auditLog = AuditLog(path: "/nonexistent")

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
        auditLog = AuditLog(path: "\(TestSupport.temporaryDirectory(for: self))/audit.log")
    }

    func makeSession(_ backend: InMemoryBackend) throws -> DashboardSession {
        let monitor = try LockMonitor(
            configuration: .init(recordsDirectory: directory, auditLog: auditLog, watchesProcesses: false))
        return DashboardSession(
            source: DirectoryDashboardSource(monitor: monitor, breaker: LockBreaker(auditLog: auditLog)),
            backend: backend,
            isReadOnly: false)
    }

    /// Turns the loop until `done` holds of the state, for at most `timeout` seconds.
    func turn(_ session: DashboardSession, timeout: TimeInterval = 5, until done: (DashboardState) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !done(session.state) {
            guard Date() < deadline, session.step(timeout: 0.1) == nil else { return false }
        }
        return true
    }

    func testRThenYBreaksAnExpiredLockLogsItReportsItAndTheWatchSeesIt() throws {
        _ = try LockFiles.create(
            path: "\(directory)/old.lock",
            bytes: LockFileContent(holder: "gone-worker", expiration: Date().addingTimeInterval(-30)).encoded())
        _ = try LockFiles.create(
            path: "\(directory)/live.lock", bytes: LockFileContent(holder: "elsewhere:1:2:T", expiration: nil).encoded()
        )
        let backend = InMemoryBackend(width: 120, height: 35)
        let session = try makeSession(backend)
        XCTAssertTrue(backend.text.contains(" old "), backend.text)
        backend.press(.character("r"))
        XCTAssertNil(session.step(timeout: 1))
        XCTAssertTrue(backend.text.contains("Break EXPIRED lock old?"), backend.text)
        backend.press(.character("y"))
        XCTAssertNil(session.step(timeout: 1))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(directory)/old.lock"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/live.lock"))
        XCTAssertTrue(backend.text.contains("broke old; logged to \(auditLog.path)"), backend.text)
        XCTAssertTrue(
            turn(session) { $0.events.contains { $0.kind == .broken && $0.key == "old" } },
            "the watch reports the break")
        XCTAssertTrue(backend.text.contains("broken    old"), backend.text)
        XCTAssertTrue(
            try String(contentsOfFile: auditLog.path, encoding: .utf8).contains("\"old_holder\": \"gone-worker\""))
        backend.press(.character("q"))
        XCTAssertEqual(session.step(timeout: 1), 0)
    }

    func testAnOpenDialogsReasonMovesWithTheClockThoughTheLockIsJudgedOncePerChange() throws {
        _ = try LockFiles.create(
            path: "\(directory)/old.lock",
            bytes: LockFileContent(holder: "gone-worker", expiration: Date().addingTimeInterval(-30)).encoded())
        let backend = InMemoryBackend(width: 120, height: 35)
        let session = try makeSession(backend)
        backend.press(.character("r"))
        XCTAssertNil(session.step(timeout: 1))
        XCTAssertTrue(backend.text.contains("The lock is EXPIRED: expired 3"), backend.text)
        XCTAssertTrue(
            turn(session, timeout: 6) { _ in backend.text.contains("The lock is EXPIRED: expired 33s ago.") },
            "the dialog's lock is judged every tick: \(backend.text)")
    }

    func testAHandOffKeepsTheCursorOnTheKeyAndItsContentionFiguresInView() throws {
        FileManager.default.createFile(atPath: "\(directory)/orders", contents: Data("{}".utf8))
        FileManager.default.createFile(atPath: "\(directory)/billing", contents: Data("{}".utf8))
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        XCTAssertTrue(try store.acquireLock(key: "billing", holder: "b"))
        XCTAssertTrue(try store.acquireLock(key: "orders", holder: "a"))
        let backend = InMemoryBackend(width: 120, height: 35)
        let session = try makeSession(backend)
        XCTAssertTrue(turn(session) { $0.data.rows.contains { $0.id == .record("orders") } == false })
        for _ in 0..<3 where session.state.selectedRow?.id != .lock("orders.lock") {
            backend.press(.down)
            _ = turn(session, timeout: 0.3) { _ in false }
        }
        XCTAssertEqual(session.state.selectedRow?.id, .lock("orders.lock"))
        backend.press(.enter)
        try store.releaseLock(key: "orders", holder: "a")
        // Free for a moment: the record's row, the cursor on it, and the lock's figures in the pane.
        XCTAssertTrue(turn(session) { $0.selectedRow?.id == .record("orders") }, backend.text)
        XCTAssertTrue(turn(session) { _ in backend.text.contains("orders.lock is free; contention: ") }, backend.text)
        XCTAssertTrue(try store.acquireLock(key: "orders", holder: "c"))
        XCTAssertTrue(turn(session) { $0.selectedRow?.id == .lock("orders.lock") }, "back on the lock, not on billing")
        // (The pane shows this test runner as the holder, whose long command line pushes the figures down.)
        XCTAssertTrue(turn(session) { $0.selectedRow?.statistics.acquisitions == 1 }, "the figures go on")
        XCTAssertEqual(session.state.selectedRow?.statistics.completedHolds, 1)
    }

    func testTheDetailPaneShowsWhatTheSessionReadForItTheRecordSummaryAndTheNamedProcess() throws {
        FileManager.default.createFile(
            atPath: "\(directory)/report",
            contents: Data(#"{"metadata": {"storage_key": "s3://bucket/r1", "serializer": "json"}, "result": 1}"#.utf8))
        let pid = getpid()
        _ = try LockFiles.create(
            path: "\(directory)/report.lock",
            bytes: LockFileContent(
                holder: "\(LockHolder.current().hostName ?? "?"):\(pid):1:MainThread", expiration: nil
            ).encoded())
        let backend = InMemoryBackend(width: 120, height: 35)
        let session = try makeSession(backend)
        XCTAssertFalse(session.state.data.rows.contains { $0.holderProcess != nil }, "rows carry no /proc lookup")
        backend.press(.enter)
        // The records are read behind the first screen: the pane asks again once the row has its record.
        XCTAssertTrue(turn(session) { $0.details?.recordSummary != nil }, backend.text)
        // (The test runner's long command line wraps, and pushes the summary below the pane: the snapshot tests draw it.)
        XCTAssertEqual(session.state.details?.recordSummary, "result json storage_key=s3://bucket/r1")
        XCTAssertEqual(session.state.details?.holderProcess?.processID, pid)
        XCTAssertTrue(backend.text.contains("process: pid \(pid)"), backend.text)
        try FileManager.default.removeItem(atPath: "\(directory)/report")
        XCTAssertTrue(turn(session) { $0.details?.recordSummary == nil }, "read again as the record goes")
        XCTAssertEqual(session.state.details?.holderProcess?.processID, pid)
    }

    func testOnRedisAForcedBreakSaysWhatPrefectWillSeeAndDeletesOnlyTheTokenShown() throws {
        let server = try RedisServer(for: self, arguments: ["--notify-keyspace-events", "K$gx"])
        let redis = try RedisConnection(url: RedisURL(server.url()))
        _ = try redis.command(["SET", "lock:txn", "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11"])
        let monitor = try RedisLockMonitor(
            configuration: .init(url: RedisURL(server.url()), auditLog: auditLog),
            firstSeen: FirstSeenLedger(path: "\(directory)/first-seen.json"))
        let backend = InMemoryBackend(width: 120, height: 35)
        let session = DashboardSession(
            source: RedisDashboardSource(monitor: monitor, breaker: LockBreaker(auditLog: auditLog)),
            backend: backend, isReadOnly: false)
        XCTAssertTrue(backend.text.contains(" txn "), backend.text)
        XCTAssertTrue(backend.text.contains(" locks 1  held 1 (1 unknown)"), backend.text)
        XCTAssertFalse(
            backend.text.contains("records 0"), "a Redis database holds no records to count: \(backend.text)")
        backend.press(.character("r"))
        XCTAssertNil(session.step(timeout: 1))
        XCTAssertTrue(backend.text.contains("Force-break held? lock txn?"), backend.text)
        XCTAssertTrue(backend.text.contains("release will raise LockNotOwnedError"), backend.text)
        backend.press(.character("t"), .character("x"), .character("n"), .enter)
        XCTAssertNil(session.step(timeout: 1))
        XCTAssertTrue(backend.text.contains("broke txn; logged to \(auditLog.path)"), backend.text)
        XCTAssertEqual(try redis.command(["EXISTS", "lock:txn"]), .integer(0))
        XCTAssertTrue(
            turn(session) { $0.events.contains { $0.kind == .broken && $0.key == "txn" } },
            "the monitor finds the audit line")
    }

    func testChangedRecordsBeyondTheRowLimitGetNoRowsAndLeaveLockRowsAlone() throws {
        let limit = DashboardRowBuilder.unlockedRecordLimit
        for index in 0..<(limit + 50) {
            FileManager.default.createFile(atPath: "\(directory)/r\(index)", contents: Data("{}".utf8))
        }
        FileManager.default.createFile(atPath: "\(directory)/locked", contents: Data("{}".utf8))
        _ = try LockFiles.create(
            path: "\(directory)/locked.lock", bytes: LockFileContent(holder: "h", expiration: nil).encoded())
        let monitor = try LockMonitor(configuration: .init(recordsDirectory: directory, watchesProcesses: false))
        XCTAssertTrue(
            TestSupport.eventually(timeout: 10) {
                _ = monitor.tick()
                return !monitor.isLoadingRecords
            })
        let shown = DashboardRowBuilder.data(from: monitor, now: Date())
        XCTAssertEqual(shown.recordRowCount, limit)
        let every = Set(monitor.snapshot.records.keys)
        let patch = DashboardRowBuilder.patch(
            for: MonitorChanges(records: every), from: monitor, shown: shown, now: Date(), detailID: nil)
        XCTAssertEqual(patch.upserts.count, limit, "the records shown are refreshed, no more")
        XCTAssertTrue(patch.upserts.allSatisfy { shown.row(withID: $0.id) != nil })
        XCTAssertTrue(patch.removals.isEmpty)
        try FileManager.default.removeItem(atPath: "\(directory)/locked")
        monitor.rescan()
        let gone = DashboardRowBuilder.patch(
            for: MonitorChanges(records: ["locked"]), from: monitor, shown: shown, now: Date(), detailID: nil)
        XCTAssertEqual(gone.upserts.map(\.id), [.lock("locked.lock")], "the lock row is rebuilt when its record went")
        XCTAssertEqual(gone.upserts.first?.records, [])
    }

    func testKThenYSendsTheLocalHolderSigtermAndLogsItAndTheLockIsNotCalledBroken() throws {
        let holder = try TestSupport.start("/bin/sleep", ["600"])
        defer {
            holder.signal(SIGKILL)
            _ = holder.wait(timeout: 10)
        }
        let pid = holder.process.processIdentifier
        var content = LockFileContent(
            holder: "0f5c6a2e-9d3b-4c1a-8e7f-112233445566", expiration: nil,
            hostName: ProcessIdentity.current.hostName, processID: pid,
            processStartTicks: ProcessIdentity.startTicks(of: pid))
        content.acquiredAt = Date()
        _ = try LockFiles.create(path: "\(directory)/work.lock", bytes: content.encoded())
        let backend = InMemoryBackend(width: 120, height: 35)
        let session = try makeSession(backend)
        XCTAssertTrue(turn(session) { $0.selectedRow?.liveness == .alive }, backend.text)
        backend.press(.character("k"))
        XCTAssertNil(session.step(timeout: 1))
        XCTAssertTrue(backend.text.contains("Send SIGTERM to the holder of work?"), backend.text)
        XCTAssertTrue(backend.text.contains("pid \(pid) holds work."), backend.text)
        backend.press(.character("y"))
        XCTAssertNil(session.step(timeout: 1))
        _ = holder.wait(timeout: 10)
        XCTAssertEqual(holder.process.terminationReason, .uncaughtSignal)
        XCTAssertEqual(holder.process.terminationStatus, SIGTERM)
        XCTAssertTrue(backend.text.contains("sent SIGTERM to pid \(pid) (holder of work)"), backend.text)
        let entry = try XCTUnwrap(auditLog.entries().entries.last)
        XCTAssertEqual(entry.signal, "SIGTERM")
        XCTAssertEqual(entry.processID, pid)
        XCTAssertEqual(entry.lockFile, "\(directory)/work.lock")
        // The holder died and its lock stays: it turns stale, and nothing calls it broken.
        XCTAssertTrue(turn(session) { $0.selectedRow?.state == .stale }, backend.text)
        XCTAssertFalse(session.state.events.contains { $0.kind == .broken })
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/work.lock"))
    }

    func testALockWhoseNameNeedsEscapingIsARowUnreadableAsListSaysIt() throws {
        _ = try LockFiles.create(
            path: "\(directory)/we\\ird.lock", bytes: LockFileContent(holder: "h", expiration: nil).encoded())
        let session = try makeSession(InMemoryBackend(width: 120, height: 35))
        XCTAssertEqual(session.state.data.lockCount, 1)
        XCTAssertEqual(session.state.data.count(.unreadable), 1)
        XCTAssertEqual(session.state.visibleRows.map(\.key), [#"we\x5Cird"#])
        let listed = try TestSupport.run(
            TestSupport.executable("locktop"), ["list", "--dir", directory, "--json"],
            environment: ["XDG_STATE_HOME": TestSupport.temporaryDirectory(for: self)])
        XCTAssertTrue(listed.standardOutput.contains(#""state": "unreadable""#), listed.standardOutput)
    }

    func testALockWrittenByAnotherProcessShowsAndASignalEndsTheLoop() throws {
        let backend = InMemoryBackend(width: 80, height: 24)
        let session = try makeSession(backend)
        _ = try LockFiles.create(
            path: "\(directory)/appearing.lock", bytes: LockFileContent(holder: "h", expiration: nil).encoded())
        XCTAssertTrue(turn(session) { $0.visibleRows.contains { $0.key == "appearing" } })
        XCTAssertTrue(backend.text.contains(" appearing "), backend.text)
        backend.resize(width: 40, height: 10)
        XCTAssertNil(session.step(timeout: 1))
        XCTAssertEqual(backend.screen?.width, 40)
        backend.signal(15)
        XCTAssertEqual(session.step(timeout: 1), 143)
    }
}
