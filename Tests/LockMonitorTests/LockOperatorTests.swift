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

    func makeOperator(evidence: any LockEvidenceSource = NoEvidence()) throws -> LockOperator {
        let clock = self.clock
        let environment = MonitorEnvironment(now: { clock.now }, hostName: "here", processStartTicks: { _ in .missing })
        return try LockOperator(
            opening: directory, classifier: LockClassifier(), environment: environment,
            breaker: LockBreaker(auditLog: AuditLog(path: audit), operatorName: "tester", now: { clock.now }),
            evidence: evidence)
    }

    /// Evidence that names one creator for every lock.
    struct Creator: LockEvidenceSource {
        var process: ProcessDetails
        func evidence(of lock: LockEntry, at now: Date) -> LockEvidence { LockEvidence(creator: process) }
    }

    func write(_ name: String, _ content: LockFileContent) throws {
        try LockFiles.replace(path: "\(directory)/\(name)", bytes: content.encoded())
    }

    func auditLines() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: audit, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func testLiveLockIsRefusedAndUntouchedWithoutForce() throws {
        try write("task.lock", LockFileContent(holder: "elsewhere:1:2:T", expiration: nil))
        let before = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/task.lock"))
        XCTAssertThrowsError(try makeOperator().release(key: "task.b", holder: nil, authority: .confirmed)) { error in
            guard case LockOperationError.refused(key: "task", let verdict, _) = error, verdict.state == .held else {
                return XCTFail("\(error)")
            }
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/task.lock")), before)
        XCTAssertTrue(auditLines().isEmpty)
        let outcome = try makeOperator().release(key: "task.b", holder: nil, authority: .forced)
        XCTAssertEqual(outcome.action, .broken)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(directory)/task.lock"))
        let entry = try XCTUnwrap(auditLines().first)
        XCTAssertEqual(entry["key"] as? String, "task")
        XCTAssertEqual(entry["old_holder"] as? String, "elsewhere:1:2:T")
        XCTAssertEqual(entry["broken_by"] as? String, "tester")
        XCTAssertEqual(entry["reason"] as? String, "forced: held: holder on elsewhere cannot be checked from this host")
    }

    func testOwnLockIsReleasedWithoutAudit() throws {
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "me"))
        let outcome = try makeOperator().release(key: "k", holder: "me", authority: .confirmed)
        XCTAssertEqual(outcome.action, .released)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(directory)/k.lock"))
        XCTAssertTrue(auditLines().isEmpty)
    }

    func testExpiredAndStaleLocksAreBrokenAndLogged() throws {
        try write("old.lock", LockFileContent(holder: "uuid", expiration: clock.now.addingTimeInterval(-5)))
        try write("dead.lock", LockFileContent(holder: "here:999999:1:MainThread", expiration: nil))
        let expired = try makeOperator().breakLock(named: "old.lock", authority: .confirmed)
        XCTAssertEqual(expired.classification.state, .expired)
        let stale = try makeOperator().breakLock(named: "dead.lock", authority: .confirmed)
        XCTAssertEqual(stale.classification.state, .stale)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
        XCTAssertEqual(auditLines().count, 2)
        XCTAssertNotNil(auditLines().first?["old_expiration"] as? String)
    }

    func testDryRunTouchesNothing() throws {
        try write("old.lock", LockFileContent(holder: "uuid", expiration: clock.now.addingTimeInterval(-5)))
        let outcome = try makeOperator().breakLock(named: "old.lock", authority: .unattended, dryRun: true)
        XCTAssertEqual(outcome.action, .wouldBreak)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/old.lock"))
        XCTAssertTrue(auditLines().isEmpty)
    }

    func testSymlinkedLockIsRemovedAsALinkAndItsTargetKept() throws {
        let target = TestSupport.temporaryDirectory(for: self) + "/precious"
        try Data(#"{"holder": "x", "expiration": null}"#.utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: "\(directory)/k.lock", withDestinationPath: target)
        XCTAssertThrowsError(try makeOperator().release(key: "k", holder: nil, authority: .confirmed))
        _ = try makeOperator().release(key: "k", holder: nil, authority: .forced)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(directory)/k.lock"))
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), #"{"holder": "x", "expiration": null}"#)
    }

    func testMissingLockAndBadKeyAreClearErrors() {
        XCTAssertThrowsError(try makeOperator().release(key: "nothing", holder: nil, authority: .forced)) { error in
            XCTAssertEqual("\(error)", "no lock for key \"nothing\" (\(directory)/nothing.lock does not exist)")
        }
        XCTAssertThrowsError(try makeOperator().release(key: "../etc", holder: nil, authority: .forced)) { error in
            XCTAssertEqual(error as? RecordStoreError, .invalidKey(key: "../etc", reason: "a key cannot contain \"/\""))
        }
    }

    func testTheBreakJudgesWithTheEvidenceTheOperatorWasShown() throws {
        // A Prefect 3.1+ transaction's lock names no process; fanotify saw pid 9384 write it, and it died.
        try write("alpha.lock", LockFileContent(holder: "ddadaacd-1", expiration: nil))
        let dead = Creator(
            process: ProcessDetails(processID: 9384, hostName: "here", startTicks: 1, command: "python worker.py run1"))
        XCTAssertThrowsError(
            try makeOperator().breakLock(named: "alpha.lock", authority: .confirmed), "without the evidence: held?")
        let lock = try XCTUnwrap(LockEntry.read("alpha.lock", in: DirectoryHandle.open(directory)))
        let outcome = try makeOperator(evidence: dead).breakLock(
            named: "alpha.lock", authority: .confirmed, shown: (lock.bytes, .stale))
        XCTAssertEqual(outcome.action, .broken)
        XCTAssertEqual(auditLines().first?["reason"] as? String, "stale: holder pid 9384 (worker.py run1) died")
    }

    func testASuspectGoesOnlyWhenNamedAndAVerdictThatMovedIsNotBroken() throws {
        try write("old.lock", LockFileContent(holder: "8f14e45f-ceea", expiration: nil))
        clock.advance(by: 7200)
        XCTAssertThrowsError(try makeOperator().breakLock(named: "old.lock", authority: .unattended)) { error in
            XCTAssertTrue("\(error)".contains("is suspect"), "\(error)")
            XCTAssertTrue("\(error)".contains("refusing without name it (release KEY) or pass --suspect"), "\(error)")
        }
        let lock = try XCTUnwrap(LockEntry.read("old.lock", in: DirectoryHandle.open(directory)))
        XCTAssertThrowsError(
            try makeOperator().breakLock(named: "old.lock", authority: .confirmed, shown: (lock.bytes, .stale))
        ) { error in
            guard case LockOperationError.verdictChanged(key: "old", shown: .stale, now: _) = error else {
                return XCTFail("\(error)")
            }
        }
        XCTAssertTrue(auditLines().isEmpty)
        let outcome = try makeOperator().release(key: "old", holder: nil, authority: .confirmed)
        XCTAssertEqual(outcome.classification.state, .suspect)
        XCTAssertTrue(
            (auditLines().first?["reason"] as? String)?.hasPrefix("suspect: held 2h00m, longer than --stale-after")
                == true)
    }
}
