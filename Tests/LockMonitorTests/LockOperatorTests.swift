import Foundation
import LocktopTestSupport
import XCTest
@testable import LockMonitor
@testable import RecordStore

final class LockOperatorTests: XCTestCase {
    var directory = ""
    var audit = ""
    var clock = TestClock()

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
        audit = TestSupport.temporaryDirectory(for: self) + "/state/audit.log"
        clock = TestClock(Date())
    }

    func makeOperator() -> LockOperator {
        let clock = self.clock
        let environment = MonitorEnvironment(now: { clock.now }, hostName: "here") { _ in .missing }
        return LockOperator(locksDirectory: directory, classifier: LockClassifier(), environment: environment,
                            breaker: LockBreaker(auditLog: AuditLog(path: audit), operatorName: "tester", now: { clock.now }))
    }

    func write(_ name: String, _ content: LockFileContent) throws {
        try LockFiles.replace(path: "\(directory)/\(name)", bytes: content.encoded())
    }

    func auditLines() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: audit, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func testLiveLockIsRefusedAndUntouchedWithoutForce() throws {
        try write("task.lock", LockFileContent(holder: "elsewhere:1:2:T", expiration: nil))
        let before = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/task.lock"))
        XCTAssertThrowsError(try makeOperator().release(key: "task.b", holder: nil, force: false)) { error in
            guard case LockOperationError.refused(key: "task", state: .held, _, _) = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/task.lock")), before)
        XCTAssertTrue(auditLines().isEmpty)
        let outcome = try makeOperator().release(key: "task.b", holder: nil, force: true)
        XCTAssertEqual(outcome.action, .broken)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(directory)/task.lock"))
        let entry = try XCTUnwrap(auditLines().first)
        XCTAssertEqual(entry["key"] as? String, "task")
        XCTAssertEqual(entry["old_holder"] as? String, "elsewhere:1:2:T")
        XCTAssertEqual(entry["broken_by"] as? String, "tester")
        XCTAssertTrue((entry["reason"] as? String)?.hasPrefix("forced: held") == true)
    }

    func testOwnLockIsReleasedWithoutAudit() throws {
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "me"))
        let outcome = try makeOperator().release(key: "k", holder: "me", force: false)
        XCTAssertEqual(outcome.action, .released)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(directory)/k.lock"))
        XCTAssertTrue(auditLines().isEmpty)
    }

    func testExpiredAndStaleLocksAreBrokenAndLogged() throws {
        try write("old.lock", LockFileContent(holder: "uuid", expiration: clock.now.addingTimeInterval(-5)))
        try write("dead.lock", LockFileContent(holder: "here:999999:1:MainThread", expiration: nil))
        let expired = try makeOperator().breakLock(named: "old.lock", force: false)
        XCTAssertEqual(expired.classification.state, .expired)
        let stale = try makeOperator().breakLock(named: "dead.lock", force: false)
        XCTAssertEqual(stale.classification.state, .stale)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
        XCTAssertEqual(auditLines().count, 2)
        XCTAssertNotNil(auditLines().first?["old_expiration"] as? String)
    }

    func testDryRunTouchesNothing() throws {
        try write("old.lock", LockFileContent(holder: "uuid", expiration: clock.now.addingTimeInterval(-5)))
        let outcome = try makeOperator().breakLock(named: "old.lock", force: false, dryRun: true)
        XCTAssertEqual(outcome.action, .wouldBreak)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/old.lock"))
        XCTAssertTrue(auditLines().isEmpty)
    }

    func testSymlinkedLockIsRemovedAsALinkAndItsTargetKept() throws {
        let target = TestSupport.temporaryDirectory(for: self) + "/precious"
        try Data(#"{"holder": "x", "expiration": null}"#.utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: "\(directory)/k.lock", withDestinationPath: target)
        XCTAssertThrowsError(try makeOperator().release(key: "k", holder: nil, force: false))
        _ = try makeOperator().release(key: "k", holder: nil, force: true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(directory)/k.lock"))
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), #"{"holder": "x", "expiration": null}"#)
    }

    func testMissingLockAndBadKeyAreClearErrors() {
        XCTAssertThrowsError(try makeOperator().release(key: "nothing", holder: nil, force: true)) { error in
            XCTAssertEqual("\(error)", "no lock for key \"nothing\" (\(directory)/nothing.lock does not exist)")
        }
        XCTAssertThrowsError(try makeOperator().release(key: "../etc", holder: nil, force: true)) { error in
            XCTAssertEqual(error as? RecordStoreError, .invalidKey(key: "../etc", reason: "a key cannot contain \"/\""))
        }
    }
}
