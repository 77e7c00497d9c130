import Foundation
import LockReports
import LocktopTestSupport
import XCTest

@testable import LockMonitor
@testable import RecordStore

/// The packed record table against a dictionary doing the same work.
final class RecordTableTests: XCTestCase {
    func testSharedLockFilesAndEdgeCasesOfThePythonSuffixRule() {
        var table = RecordTable()
        for key in ["task.b", "task.c", "task", "a-1", ".env", "trailing.", "a.b.c"] {
            table.set(RecordEntry(key: key, size: key.count, modified: Date(timeIntervalSince1970: 10)))
        }
        XCTAssertEqual(table.recordKeys(forLock: "task.lock"), ["task", "task.b", "task.c"])
        XCTAssertTrue(table.isShared("task.lock"))
        XCTAssertEqual(table.recordKeys(forLock: "a-1.lock"), ["a-1"])
        XCTAssertFalse(table.isShared("a-1.lock"))
        XCTAssertEqual(table.recordKeys(forLock: ".env.lock"), [".env"])
        XCTAssertEqual(table.recordKeys(forLock: "trailing..lock"), ["trailing."])
        XCTAssertEqual(table.recordKeys(forLock: "a.b.lock"), ["a.b.c"])
        XCTAssertEqual(table.recordKeys(forLock: "nothing.lock"), [])
        for key in table.keys {
            XCTAssertEqual(table.recordKeys(forLock: RecordKey.lockFileName(forKey: key)).contains(key), true)
        }
        XCTAssertTrue(table.remove(key: "task"))
        XCTAssertFalse(table.remove(key: "task"))
        XCTAssertEqual(table.recordKeys(forLock: "task.lock"), ["task.b", "task.c"])
        XCTAssertEqual(table["task.b"]?.size, 6)
        XCTAssertNil(table["task"])
        XCTAssertFalse(
            table.set(RecordEntry(key: "a-1", size: 3, modified: Date(timeIntervalSince1970: 10))), "unchanged")
        XCTAssertTrue(
            table.set(RecordEntry(key: "a-1", size: 4, modified: Date(timeIntervalSince1970: 10), isSymbolicLink: true))
        )
        XCTAssertEqual(
            table["a-1"],
            RecordEntry(key: "a-1", size: 4, modified: Date(timeIntervalSince1970: 10), isSymbolicLink: true))
        XCTAssertEqual(table.count, 6)
        table.set(
            RecordEntry(key: "bad-\\xFF", size: 1, modified: Date(timeIntervalSince1970: 10), nameIsEscaped: true))
        XCTAssertEqual(table.escapedCount, 1)
        table.remove(key: "bad-\\xFF")
        XCTAssertEqual(table.escapedCount, 0)
    }

    func testRandomInsertsAndRemovalsAgreeWithADictionary() {
        var generator = SystemRandomNumberGenerator()
        var table = RecordTable()
        var reference: [String: RecordEntry] = [:]
        for step in 0..<60_000 {
            let key =
                "k\(Int.random(in: 0..<3_000, using: &generator)).\(["a", "b", "c", "lockless"].randomElement(using: &generator)!)"
            if Bool.random(using: &generator) || step < 5_000 {
                let entry = RecordEntry(key: key, size: step, modified: Date(timeIntervalSince1970: Double(step)))
                table.set(entry)
                reference[key] = entry
            } else {
                XCTAssertEqual(table.remove(key: key), reference.removeValue(forKey: key) != nil)
            }
        }
        XCTAssertEqual(table.count, reference.count)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: table.map { ($0.key, $0) }), reference)
        var byLock: [String: [String]] = [:]
        for key in reference.keys { byLock[RecordKey.lockFileName(forKey: key), default: []].append(key) }
        for index in 0..<3_000 {
            let name = "k\(index).lock"
            XCTAssertEqual(table.recordKeys(forLock: name), (byLock[name] ?? []).sorted())
            XCTAssertEqual(table.isShared(name), (byLock[name]?.count ?? 0) > 1)
        }
    }
}

/// A large directory's locks are read at once and its record table is built behind the first screen.
final class RecordTableLoadingTests: XCTestCase {
    func testLocksComeFirstTheRecordTableOnALaterTickAndAWatchedChangeWins() throws {
        let directory = TestSupport.temporaryDirectory(for: self)
        for index in 0..<3_000 {
            try Data(repeating: 0x41, count: index % 7 + 1).write(
                to: URL(fileURLWithPath: "\(directory)/record-\(index)"))
        }
        try FileManager.default.createDirectory(atPath: "\(directory)/not-a-record", withIntermediateDirectories: false)
        _ = try LockFiles.create(
            path: "\(directory)/record-12.lock", bytes: LockFileContent(holder: "h", expiration: nil).encoded())
        let monitor = try LockMonitor(configuration: .init(recordsDirectory: directory, watchesProcesses: false))
        XCTAssertEqual(monitor.snapshot.locks.keys.sorted(), ["record-12.lock"], "the locks are read at once")
        XCTAssertEqual(monitor.snapshot.records.count, 0, "the table is not in before a tick takes it")
        XCTAssertTrue(monitor.isLoadingRecords)
        XCTAssertEqual(monitor.recordCount, 3_001, "the header counts what was listed")
        try Data(repeating: 0x42, count: 100).write(to: URL(fileURLWithPath: "\(directory)/record-5"))
        try FileManager.default.removeItem(atPath: "\(directory)/record-7")
        XCTAssertTrue(
            TestSupport.eventually(timeout: 10) {
                _ = monitor.processChanges()
                _ = monitor.tick()
                return !monitor.isLoadingRecords
            })
        XCTAssertTrue(monitor.takeChanges().everything)
        XCTAssertEqual(monitor.snapshot.records.count, 2_999, "a directory is not a record; a removed record is gone")
        XCTAssertEqual(monitor.recordCount, 2_999)
        XCTAssertEqual(monitor.snapshot.records["record-12"]?.size, 12 % 7 + 1)
        XCTAssertEqual(monitor.snapshot.records["record-5"]?.size, 100, "the watched rewrite is kept")
        XCTAssertNil(monitor.snapshot.records["record-7"])
        XCTAssertEqual(monitor.snapshot.recordKeys(forLock: "record-12.lock"), ["record-12"])
    }

    func testARescanWhileLoadingReplacesTheLoader() throws {
        let directory = TestSupport.temporaryDirectory(for: self)
        for index in 0..<500 {
            FileManager.default.createFile(atPath: "\(directory)/r\(index)", contents: Data("{}".utf8))
        }
        let monitor = try LockMonitor(configuration: .init(recordsDirectory: directory, watchesProcesses: false))
        monitor.rescan()
        XCTAssertFalse(monitor.isLoadingRecords)
        XCTAssertEqual(monitor.snapshot.records.count, 500)
        FileManager.default.createFile(atPath: "\(directory)/r-late", contents: Data("{}".utf8))
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) {
                _ = monitor.processChanges()
                return monitor.snapshot.records.count == 501
            })
    }
}

/// The human table of `locktop list`.
final class ListTableTests: XCTestCase {
    func testTheStateColumnShowsTheVerdictAndNarrowTablesShrinkTheReasonFirst() throws {
        let directory = TestSupport.temporaryDirectory(for: self)
        _ = try LockFiles.create(
            path: "\(directory)/a-long-key-of-a-task.lock",
            bytes: LockFileContent(holder: "h", expiration: nil).encoded())
        let snapshot = try DirectorySnapshot.scan(
            records: DirectoryHandle.open(directory), locks: DirectoryHandle.open(directory))
        let now = Date()
        var table = ListTable()
        let plain = table.render(
            snapshot,
            classify: { _ in LockClassification(state: .held, liveness: .unknown, reason: "holder process unknown") },
            auditLog: "/log", now: now)
        XCTAssertTrue(plain.hasPrefix("KEY                   STATE  HOLDER  EXPIRES  HELD  RECORDS  REASON\n"), plain)
        XCTAssertTrue(
            plain.contains("a-long-key-of-a-task  held?  h "), "list says held? where the dashboard does: \(plain)")
        XCTAssertTrue(plain.contains("0 records (0 without a lock), 1 lock\n"))
        let reasoned: (LockEntry) -> LockClassification = { _ in
            LockClassification(state: .stale, liveness: .dead, reason: "holder pid 12 died an hour ago")
        }
        table.width = 70
        let narrow = table.render(snapshot, classify: reasoned, auditLog: "/log", now: now)
        let lines = narrow.split(separator: "\n")
        XCTAssertTrue(lines[0].hasSuffix("REASON"), narrow)
        XCTAssertTrue(lines[1].hasPrefix("a-long-key-of-a-task  stale"), "the key keeps its width: \(narrow)")
        XCTAssertTrue(lines[1].hasSuffix("…"), narrow)
        XCTAssertLessThanOrEqual(lines[1].count, 70)
    }
}
