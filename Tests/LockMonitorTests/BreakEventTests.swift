import Foundation
import LockReports
import LocktopTestSupport
import XCTest

@testable import LockMonitor
@testable import RecordStore

/// How a watching monitor reports breaks: its own, another process's, and one that was undone.
final class BreakEventTests: XCTestCase {
    var directory = ""
    var state = ""
    var auditLog: AuditLog { AuditLog(path: "\(state)/locktop/audit.log") }

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
        state = TestSupport.temporaryDirectory(for: self)
    }

    func makeMonitor(poll: TimeInterval? = nil) throws -> LockMonitor {
        try LockMonitor(configuration: .init(recordsDirectory: directory, forcedPollInterval: poll, auditLog: auditLog))
    }

    func writeLock(_ name: String, holder: String, expiration: Date? = nil) throws {
        try LockFiles.replace(
            path: "\(directory)/\(name)", bytes: LockFileContent(holder: holder, expiration: expiration).encoded())
    }

    /// Collects the monitor's events (changes and ticks) until `predicate` holds or `timeout` passes.
    func events(from monitor: LockMonitor, timeout: TimeInterval = 5, until predicate: ([MonitorEvent]) -> Bool)
        -> [MonitorEvent]
    {
        var collected: [MonitorEvent] = []
        _ = TestSupport.eventually(timeout: timeout) {
            collected += monitor.processChanges() + monitor.tick()
            return predicate(collected)
        }
        return collected
    }

    func testAfterOurOwnBreakTheNextHoldersReleaseIsStillReported() throws {
        try writeLock("k.lock", holder: "crashed-worker", expiration: Date().addingTimeInterval(-30))
        let monitor = try makeMonitor()
        try monitor.breakLock(
            named: "k.lock", authority: .unattended, breaker: LockBreaker(auditLog: auditLog, operatorName: "tester"))
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        let broken = events(from: monitor) { $0.contains { $0.kind == .broken } }
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "next-worker", acquireTimeout: 0))
        _ = TestSupport.eventually { monitor.processChanges().contains { $0.kind == .acquired } }
        usleep(20_000)
        try store.releaseLock(key: "k", holder: "next-worker")
        let released = events(from: monitor) { $0.contains { $0.kind == .released } }
        XCTAssertEqual(broken.map(\.kind), [.broken], "\(broken)")
        XCTAssertEqual(broken.first?.previousHolder, "crashed-worker")
        XCTAssertEqual(broken.first?.brokenBy, "tester")
        XCTAssertEqual(broken.first?.reason?.hasPrefix("expired: expired"), true, broken.first?.reason ?? "")
        XCTAssertEqual(released.map(\.kind), [.released], "the next holder's release is not swallowed")
        XCTAssertEqual(released.first?.previousHolder, "next-worker")
        let statistics = monitor.statistics(forLock: "k.lock")
        XCTAssertEqual(statistics.acquisitions, 1)
        XCTAssertGreaterThanOrEqual(
            try XCTUnwrap(statistics.lastHold), 0.02, "the hold time of the next holder is counted")
    }

    /// Found by the soak: a watch that read late found a break and the next holder's release in
    /// one read, and called the break a release.
    func testSeveralRemovalsOfALockInOneReadAreEachTheirOwn() throws {
        try writeLock("k.lock", holder: "crashed-worker", expiration: Date().addingTimeInterval(-30))
        let monitor = try makeMonitor()
        let breaker = LockBreaker(auditLog: auditLog, operatorName: "tester")
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        // Nothing is read between these: one batch.
        try monitor.breakLock(named: "k.lock", authority: .unattended, breaker: breaker)
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "next-worker", acquireTimeout: 0))
        try store.releaseLock(key: "k", holder: "next-worker")
        let first = events(from: monitor, timeout: 2) { _ in false }
        XCTAssertEqual(first.map(\.kind), [.broken], "the break of the holder it knew, not a release: \(first)")
        XCTAssertEqual(first.first?.previousHolder, "crashed-worker")

        // The holder it knows releases; a holder it never read is broken; in one read.
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "third-worker", acquireTimeout: 0))
        XCTAssertEqual(events(from: monitor) { $0.contains { $0.kind == .acquired } }.map(\.kind), [.acquired])
        try store.releaseLock(key: "k", holder: "third-worker")
        try writeLock("k.lock", holder: "unseen-worker", expiration: Date().addingTimeInterval(-30))
        let unseen = try XCTUnwrap(LockEntry.read("k.lock", in: try DirectoryHandle.open(directory)))
        _ = try breaker.breakLock(
            "k.lock", in: try DirectoryHandle.open(directory), judged: unseen.observation, key: "k", reason: "expired")
        let second = events(from: monitor, timeout: 2) { _ in false }
        XCTAssertEqual(second.map(\.kind), [.released, .broken], "\(second)")
        XCTAssertEqual(second.map(\.previousHolder), ["third-worker", "unseen-worker"])
        XCTAssertEqual(second.last?.brokenBy, "tester")

        // A holder that came and was broken between two reads, with none known before it.
        try writeLock("j.lock", holder: "brief-worker", expiration: Date().addingTimeInterval(-30))
        let brief = try XCTUnwrap(LockEntry.read("j.lock", in: try DirectoryHandle.open(directory)))
        _ = try breaker.breakLock(
            "j.lock", in: try DirectoryHandle.open(directory), judged: brief.observation, key: "j", reason: "expired")
        let third = events(from: monitor, timeout: 2) { _ in false }
        XCTAssertEqual(third.map(\.kind), [.broken], "\(third)")
        XCTAssertEqual(third.first?.previousHolder, "brief-worker")
    }

    func testABreakByAnotherLocktopIsBrokenWithItsReasonAndWhoWithinASecond() throws {
        try writeLock("shared.lock", holder: "busy-worker")
        let monitor = try makeMonitor()
        let outcome = try TestSupport.run(
            TestSupport.executable("locktop"), ["release", "--dir", directory, "shared.x", "--force"],
            environment: ["XDG_STATE_HOME": state])
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        let finished = Date()
        let seen = events(from: monitor, timeout: 3) { $0.contains { $0.kind == .broken } }
        XCTAssertLessThan(Date().timeIntervalSince(finished), 1)
        XCTAssertEqual(seen.map(\.kind), [.broken], "\(seen)")
        let event = try XCTUnwrap(seen.first)
        XCTAssertEqual(event.key, "shared")
        XCTAssertEqual(event.previousHolder, "busy-worker")
        XCTAssertEqual(event.reason, "forced: held: holder process unknown")
        XCTAssertTrue(event.brokenBy?.contains("@") == true, event.brokenBy ?? "")
        let line = String(decoding: Reports.eventJSONLine(event), as: UTF8.self)
        XCTAssertTrue(
            line.contains(#""type": "broken""#) && line.contains(#""broken_by": "#)
                && line.contains(#""reason": "forced: held: holder process unknown""#), line)
    }

    func testABreakWhoseAuditLineIsNotInThisUsersLogIsNoBroken() throws {
        try writeLock("k.lock", holder: "h", expiration: Date().addingTimeInterval(-5))
        let monitor = try makeMonitor()
        let elsewhere = LockBreaker(auditLog: AuditLog(path: "\(state)/someone-else/audit.log"), operatorName: "other")
        let lock = try XCTUnwrap(LockEntry.read("k.lock", in: DirectoryHandle.open(directory)))
        XCTAssertTrue(
            try elsewhere.breakLock(
                lock.name, in: DirectoryHandle.open(directory), judged: lock.observation, key: "k", reason: "expired"))
        let seen = events(from: monitor) { !$0.isEmpty }
        XCTAssertEqual(seen.map(\.kind), [.released], "a broken event is a break this user's log records")
        XCTAssertTrue(
            seen.first?.detail?.contains(
                "set aside as a break by pid \(getpid()), with no line in this user's audit log") == true,
            "\(String(describing: seen.first?.detail))")
    }

    func testAnAsideNamedLikeABreakByAnotherUidIsNoBrokenAndABreakInAnotherDirectoryExplainsNothing() throws {
        try writeLock("t.lock", holder: "h", expiration: nil)
        let monitor = try makeMonitor()
        // Anyone who may write the directory: mv t.lock .locktop-1-7.break; rm .locktop-1-7.break
        try FileManager.default.moveItem(atPath: "\(directory)/t.lock", toPath: "\(directory)/.locktop-1-7.break")
        try FileManager.default.removeItem(atPath: "\(directory)/.locktop-1-7.break")
        let seen = events(from: monitor) { !$0.isEmpty }
        XCTAssertEqual(seen.map(\.kind), [.released], "\(seen)")
        XCTAssertFalse(seen.contains { $0.brokenBy == "pid 1" })
        // A real break of a lock of the same name and holder in another directory, logged to this
        // user's log, does not turn a plain rm here into a break.
        let other = TestSupport.temporaryDirectory(for: self)
        try LockFiles.replace(path: "\(other)/u.lock", bytes: LockFileContent(holder: "h", expiration: nil).encoded())
        try writeLock("u.lock", holder: "h", expiration: nil)
        _ = events(from: monitor) { !$0.isEmpty }
        let elsewhere = try XCTUnwrap(LockEntry.read("u.lock", in: DirectoryHandle.open(other)))
        XCTAssertTrue(
            try LockBreaker(auditLog: auditLog, operatorName: "tester").breakLock(
                "u.lock", in: DirectoryHandle.open(other), judged: elsewhere.observation, key: "u",
                reason: "forced: held"))
        try FileManager.default.removeItem(atPath: "\(directory)/u.lock")
        let removed = events(from: monitor) { !$0.isEmpty }
        XCTAssertEqual(removed.map(\.kind), [.released], "matched by directory, not by name: \(removed)")
    }

    func testABreakThatWasUndoneIsNeitherLoggedNorReported() throws {
        try writeLock("k.lock", holder: "first", expiration: Date().addingTimeInterval(-5))
        let judged = try XCTUnwrap(LockEntry.read("k.lock", in: DirectoryHandle.open(directory)))
        try writeLock("k.lock", holder: "second")
        let monitor = try makeMonitor()
        let breaker = LockBreaker(auditLog: auditLog, operatorName: "tester")
        XCTAssertThrowsError(
            try breaker.breakLock(
                "k.lock", in: DirectoryHandle.open(directory), judged: judged.observation, key: "k", reason: "expired")
        ) {
            XCTAssertEqual($0 as? RecordStoreError, .lockChanged(key: "k"))
        }
        let seen = events(from: monitor, timeout: 1.5) { _ in false }
        XCTAssertEqual(seen.filter { $0.kind != .changed }.map(\.kind), [], "\(seen)")
        XCTAssertEqual(try LockEntry.read("k.lock", in: DirectoryHandle.open(directory))?.content?.holder, "second")
        XCTAssertEqual(try auditLog.entries().entries, [], "the log never claims a break that was undone")
    }

    func testABreakThatCannotBeLoggedIsPutBack() throws {
        try writeLock("k.lock", holder: "h", expiration: Date().addingTimeInterval(-5))
        FileManager.default.createFile(atPath: "\(state)/not-a-directory", contents: Data())
        let breaker = LockBreaker(
            auditLog: AuditLog(path: "\(state)/not-a-directory/audit.log"), operatorName: "tester")
        let lock = try XCTUnwrap(LockEntry.read("k.lock", in: DirectoryHandle.open(directory)))
        XCTAssertThrowsError(
            try breaker.breakLock(
                "k.lock", in: DirectoryHandle.open(directory), judged: lock.observation, key: "k", reason: "expired"))
        XCTAssertEqual(
            try LockEntry.read("k.lock", in: DirectoryHandle.open(directory))?.bytes, lock.bytes, "no unlogged break")
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: directory), ["k.lock"], "no aside left behind")
    }

    func testAReleaseThroughTheStoreIsAReleaseNotABreak() throws {
        let monitor = try makeMonitor()
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "me", acquireTimeout: 0))
        _ = events(from: monitor) { $0.contains { $0.kind == .acquired } }
        try store.releaseLock(key: "k", holder: "me")
        let seen = events(from: monitor) { $0.contains { $0.kind == .released } }
        XCTAssertEqual(seen.map(\.kind), [.released])
    }

    func testOurOwnBreakWhilePollingIsReportedByTheNextTick() throws {
        try writeLock("k.lock", holder: "crashed-worker", expiration: Date().addingTimeInterval(-30))
        let monitor = try makeMonitor(poll: 60)
        try monitor.breakLock(
            named: "k.lock", authority: .unattended, breaker: LockBreaker(auditLog: auditLog, operatorName: "tester"))
        let seen = monitor.tick()
        XCTAssertEqual(seen.map(\.kind), [.broken])
        XCTAssertEqual(seen.first?.brokenBy, "tester")
    }

    func testAsideNamesCarryTheRemovalAndThePid() {
        XCTAssertEqual(LockFiles.Removal.parse(asideName: ".locktop-4242-7.break")?.removal, .operatorBreak)
        XCTAssertEqual(LockFiles.Removal.parse(asideName: ".locktop-4242-7.break")?.processID, 4242)
        XCTAssertEqual(LockFiles.Removal.parse(asideName: ".locktop-9-1.release")?.removal, .release)
        XCTAssertNil(LockFiles.Removal.parse(asideName: ".locktop-9-1.tmp"))
        XCTAssertNil(LockFiles.Removal.parse(asideName: "k.lock"))
    }
}
