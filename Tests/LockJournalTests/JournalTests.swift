import Dashboard
import Foundation
import LockJournal
import LockMonitor
import LocktopTestSupport
import RecordStore
import XCTest

/// The journal on disk: what is appended reads back, retention prunes, several writers share one
/// file, and a journal that is not the operator's alone is refused for recording.
final class JournalTests: XCTestCase {
    let start = Date(timeIntervalSince1970: 1_796_000_000)

    func event(_ kind: MonitorEvent.Kind, _ key: String, at offset: Double, holder: String? = nil) -> MonitorEvent {
        MonitorEvent(time: start.addingTimeInterval(offset), kind: kind, key: key, holder: holder)
    }

    func row(_ key: String, state: LockState = .held, waiters: Int = 0) -> LockRow {
        let process = ProcessDetails(processID: 4242, hostName: "web-1", startTicks: 7, command: "python flow.py")
        return LockRow(
            id: .lock(key + ".lock"), key: key, lockName: key + ".lock", state: state, reason: "held for 3s",
            holder: LockHolder("web-1:4242:1:MainThread"), liveness: .alive, since: start, holderProcessID: 4242,
            holderProcess: process, identitySource: .fanotify,
            waiters: (0..<waiters).map {
                IdentityLedger.Waiter(
                    process: ProcessDetails(
                        processID: 5000 + Int32($0), hostName: "web-1", startTicks: 1, command: "python w.py"),
                    since: start, lastSeen: start, reads: 3)
            }, countsWaiters: true)
    }

    func testEventsAndRowsReadBackAsRecorded() throws {
        let path = TestSupport.temporaryDirectory(for: self) + "/journal.db"
        let journal = try Journal(recordingAt: path)
        var released = event(.released, "orders", at: 2)
        released.previousHolder = "a"
        released.heldSeconds = 2
        released.records = ["orders.x", "orders.y"]
        var waited = event(.waited, "orders", at: 3)
        waited.processID = 5001
        waited.waitedSeconds = 1.5
        waited.tookLock = true
        var deadlock = event(.deadlock, "a", at: 4)
        deadlock.deadlock = WaitForGraph.Deadlock(
            links: [
                .init(lockName: "a.lock", holderProcessID: 1, holderCommand: "one"),
                .init(lockName: "b.lock", holderProcessID: 2, holderCommand: "two"),
            ], isCertain: true)
        try journal.append(
            [event(.acquired, "orders", at: 0, holder: "a"), released, waited, deadlock],
            rows: [
                .init(time: start, source: "/srv/locks", rowID: "orders.lock", snapshot: RowSnapshot(row("orders"))),
                .init(time: start.addingTimeInterval(2), source: "/srv/locks", rowID: "orders.lock", snapshot: nil),
            ], source: "/srv/locks")

        let read = try Journal(readingAt: path)
        let entries = try read.events()
        XCTAssertEqual(entries.map(\.event.kind), [.acquired, .released, .waited, .deadlock])
        XCTAssertEqual(entries.map(\.source), Array(repeating: "/srv/locks", count: 4))
        XCTAssertEqual(entries[1].event, released)
        XCTAssertEqual(entries[2].event, waited)
        XCTAssertEqual(entries[3].event.deadlock, deadlock.deadlock)
        XCTAssertEqual(try read.events(since: start.addingTimeInterval(1), until: start.addingTimeInterval(3)).count, 2)
        XCTAssertEqual(try read.events(key: "a").count, 1)
        XCTAssertEqual(try read.events(source: "elsewhere").count, 0)
        XCTAssertEqual(try read.events(since: start.addingTimeInterval(1), limit: 1).map(\.event.kind), [.released])
        XCTAssertEqual(try read.sources(), ["/srv/locks"])
        let changes = try read.rowChanges()
        XCTAssertEqual(changes.count, 2)
        XCTAssertEqual(changes[0].snapshot?.row.holderProcess?.processID, 4242)
        XCTAssertEqual(changes[0].snapshot?.holderProcess?.command, "python flow.py", "the command, kept once apart")
        XCTAssertEqual(changes[0].snapshot?.holderProcess?.host, "web-1")
        XCTAssertEqual(changes[0].snapshot?.row.state, .held)
        XCTAssertNil(changes[1].snapshot)
        XCTAssertEqual(try read.span(), start...start.addingTimeInterval(4))
        XCTAssertTrue(try read.latestRows().isEmpty, "the row went")
    }

    func testRetentionPrunesOldEventsAndKeepsARowThatIsStillThere() throws {
        let path = TestSupport.temporaryDirectory(for: self) + "/journal.db"
        let journal = try Journal(recordingAt: path)
        try journal.append(
            [event(.acquired, "old", at: 0), event(.acquired, "new", at: 100)],
            rows: [
                .init(time: start, source: "s", rowID: "old.lock", snapshot: RowSnapshot(row("old"))),
                .init(time: start, source: "s", rowID: "gone.lock", snapshot: RowSnapshot(row("gone"))),
                .init(time: start.addingTimeInterval(1), source: "s", rowID: "gone.lock", snapshot: nil),
            ], source: "s")
        try journal.prune(olderThan: 50, now: start.addingTimeInterval(100))
        XCTAssertEqual(try journal.events().map(\.event.key), ["new"])
        XCTAssertEqual(try journal.rowChanges().map(\.rowID), ["old.lock"], "a held lock's last state stays")
    }

    func testTwoRecordersShareOneJournal() throws {
        let path = TestSupport.temporaryDirectory(for: self) + "/journal.db"
        let first = JournalRecorder(journal: try Journal(recordingAt: path), source: "one")
        let second = JournalRecorder(journal: try Journal(recordingAt: path), source: "two")
        let group = DispatchGroup()
        let start = start
        for (recorder, key) in [(first, "a"), (second, "b")] {
            nonisolated(unsafe) let recorder = recorder
            DispatchQueue.global().async(group: group) {
                for index in 0..<200 {
                    let event = MonitorEvent(time: start.addingTimeInterval(Double(index)), kind: .acquired, key: key)
                    recorder.record([event], upserts: [], removals: [], replacingAll: false, at: start)
                }
            }
        }
        group.wait()
        first.flush()
        second.flush()
        XCTAssertNil(first.failure)
        XCTAssertNil(second.failure)
        let entries = try Journal(readingAt: path).events()
        XCTAssertEqual(entries.filter { $0.source == "one" }.count, 200)
        XCTAssertEqual(entries.filter { $0.source == "two" }.count, 200)
    }

    func testARecorderWritesARowOnlyWhenWhatItShowsChanges() throws {
        let path = TestSupport.temporaryDirectory(for: self) + "/journal.db"
        let recorder = JournalRecorder(journal: try Journal(recordingAt: path), source: "s")
        recorder.record([], upserts: [row("a")], removals: [], replacingAll: true, at: start)
        var moved = row("a")
        moved.reason = "held for 4s"
        recorder.record([], upserts: [moved], removals: [], replacingAll: false, at: start.addingTimeInterval(1))
        recorder.record(
            [], upserts: [row("a", waiters: 2)], removals: [], replacingAll: false, at: start.addingTimeInterval(2))
        recorder.record(
            [], upserts: [], removals: [.lock("a.lock")], replacingAll: false, at: start.addingTimeInterval(3))
        recorder.flush()
        let changes = try Journal(readingAt: path).rowChanges()
        XCTAssertEqual(
            changes.map { $0.snapshot?.waiters.count }, [0, 2, nil], "a reason moving with the clock is no change")
    }

    func testAJournalThatIsNotTheOperatorsAloneIsNotRecordedInto() throws {
        let directory = TestSupport.temporaryDirectory(for: self)
        let path = directory + "/journal.db"
        FileManager.default.createFile(atPath: path, contents: nil)
        chmod(path, 0o666)
        XCTAssertThrowsError(try Journal(recordingAt: path)) {
            XCTAssertTrue("\($0)".contains("others may write it"), "\($0)")
        }
        let link = directory + "/link.db"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: directory + "/elsewhere.db")
        XCTAssertThrowsError(try Journal(recordingAt: link))
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/elsewhere.db"))
    }

    func testAForeignDatabaseIsNoJournalAndGarbledRowsAreSkipped() throws {
        let directory = TestSupport.temporaryDirectory(for: self)
        let path = directory + "/journal.db"
        let journal = try Journal(recordingAt: path)
        try journal.append(
            [event(.acquired, "a", at: 0)],
            rows: [.init(time: start, source: "s", rowID: "a.lock", snapshot: RowSnapshot(row("a")))], source: "s")
        // Another hand's rows: a snapshot that is not one, a state that is no state, a type that is no event.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [
            path,
            """
            INSERT INTO rows(time, source, row, snapshot) VALUES (1796000001, 's', 'b.lock', '{"not": "a snapshot"}');
            INSERT INTO events(time, source, type, key) VALUES (1796000001, 's', 'exploded', 'a');
            INSERT INTO events(time, source, type, key, held_seconds) VALUES ('later', 's', 'released', 'a', -5);
            """,
        ]
        try sqlite.run()
        sqlite.waitUntilExit()
        XCTAssertEqual(sqlite.terminationStatus, 0)
        let read = try Journal(readingAt: path)
        XCTAssertEqual(try read.events().map(\.event.kind), [.acquired], "what is not an event is left out")
        XCTAssertEqual(try read.rowChanges().compactMap(\.snapshot).map(\.key), ["a"])

        let other = directory + "/other.db"
        sqlite.arguments = [other, "CREATE TABLE t(a);"]
        let again = Process()
        again.executableURL = sqlite.executableURL
        again.arguments = sqlite.arguments
        try again.run()
        again.waitUntilExit()
        XCTAssertThrowsError(try Journal(readingAt: other)) {
            XCTAssertTrue("\($0)".contains("is not a locktop journal"), "\($0)")
        }
    }
}
