import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// `k`'s signal to a lock's holder, on real processes: only the very process judged, only with
/// the permission the operator has, and logged, never as a break.
final class HolderSignalTests: XCTestCase {
    var log = AuditLog(path: "/nonexistent")

    override func setUp() {
        log = AuditLog(path: "\(TestSupport.temporaryDirectory(for: self))/locktop/audit.log")
    }

    func target(_ child: TestSupport.Child, startTicks: UInt64? = nil) throws -> HolderSignal.Target {
        let pid = child.process.processIdentifier
        return HolderSignal.Target(
            processID: pid, startTicks: try startTicks ?? XCTUnwrap(ProcessIdentity.startTicks(of: pid)),
            command: "sleep 600", key: "orders", lockFile: "/srv/locks/orders.lock", holder: "worker-1")
    }

    func testSigtermReachesTheJudgedProcessAndIsLoggedAsASignalNotABreak() throws {
        let child = try TestSupport.start("/bin/sleep", ["600"])
        var tail = AuditTail(log: log)
        try HolderSignal.send(.terminate, to: target(child), breaker: LockBreaker(auditLog: log, operatorName: "op"))
        _ = child.wait(timeout: 10)
        XCTAssertEqual(child.process.terminationReason, .uncaughtSignal)
        XCTAssertEqual(child.process.terminationStatus, SIGTERM)
        let entries = try log.entries().entries
        XCTAssertEqual(entries.count, 1)
        XCTAssertEqual(entries[0].signal, "SIGTERM")
        XCTAssertEqual(entries[0].processID, child.process.processIdentifier)
        XCTAssertEqual(entries[0].brokenBy, "op")
        XCTAssertFalse(entries[0].isBreak)
        XCTAssertTrue(try String(contentsOfFile: log.path, encoding: .utf8).contains(#""action": "signal""#))
        XCTAssertNil(
            tail.take(lockFile: "/srv/locks/orders.lock", holder: "worker-1"), "a signal line explains no removal")
    }

    func testAProcessThatIsNotTheJudgedOneIsNeverSignalled() throws {
        let child = try TestSupport.start("/bin/sleep", ["600"])
        defer {
            child.signal(SIGKILL)
            _ = child.wait(timeout: 10)
        }
        let judged = try target(child)
        // The same pid, another start: a process that reused the pid is not the holder.
        XCTAssertThrowsError(
            try HolderSignal.send(
                .kill, to: target(child, startTicks: judged.startTicks + 1), breaker: LockBreaker(auditLog: log))
        ) { XCTAssertEqual($0 as? HolderSignal.Failure, .gone(processID: judged.processID)) }
        XCTAssertTrue(child.process.isRunning)
        XCTAssertEqual(try log.entries().entries.count, 0, "nothing sent, nothing logged")
    }

    func testAnotherUsersProcessIsRefusedUnlessRoot() throws {
        let child = try TestSupport.start("/bin/sleep", ["600"])
        defer {
            child.signal(SIGKILL)
            _ = child.wait(timeout: 10)
        }
        let owner = try XCTUnwrap(ProcessIdentity.realUID(of: child.process.processIdentifier))
        let stranger: UInt32 = owner == 65534 ? 65533 : 65534
        XCTAssertThrowsError(
            try HolderSignal.send(
                .terminate, to: target(child), breaker: LockBreaker(auditLog: log), operatorUID: stranger)
        ) {
            XCTAssertEqual(
                $0 as? HolderSignal.Failure, .otherUser(processID: child.process.processIdentifier, uid: owner))
        }
        XCTAssertTrue(child.process.isRunning)
        XCTAssertEqual(try log.entries().entries.count, 0)
    }

    func testAGoneProcessIsSaidSo() throws {
        let child = try TestSupport.start("/bin/true", [])
        let judged = HolderSignal.Target(
            processID: child.process.processIdentifier, startTicks: 1, command: "true", key: "k", lockFile: "/l",
            holder: nil)
        _ = child.wait(timeout: 10)
        XCTAssertThrowsError(try HolderSignal.send(.terminate, to: judged, breaker: LockBreaker(auditLog: log))) {
            XCTAssertEqual($0 as? HolderSignal.Failure, .gone(processID: judged.processID))
        }
    }
}
