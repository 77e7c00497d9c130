import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// `locktop lock`: no process of the command outlives its lock. The command runs in a process
/// group of its own; its leftovers are ended (SIGTERM, then SIGKILL after `--kill-after`) before
/// the lock goes; and a `kill -9` of locktop still kills the whole group.
final class LockGroupTests: XCTestCase {
    var directory = ""

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
    }

    func isGone(_ pid: Int32) -> Bool {
        ProcessIdentity.startTicks(of: pid) == nil || ProcessIdentity.hasExited(pid)
    }

    func backgroundPID() throws -> Int32 {
        XCTAssertTrue(
            TestSupport.eventually(timeout: 10) { FileManager.default.fileExists(atPath: "\(self.directory)/bg.pid") })
        usleep(50_000)
        let text = try String(contentsOfFile: "\(directory)/bg.pid", encoding: .utf8)
        return try XCTUnwrap(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    func testABackgroundChildIsEndedBeforeTheLockIsReleased() throws {
        let started = Date()
        let outcome = try TestSupport.run(
            TestSupport.executable("locktop"),
            ["lock", "--dir", directory, "job", "-c", "sleep 300 & echo $! > \(directory)/bg.pid; exit 0"])
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        // Before, the `sleep 300` lived on: locktop's exit was seen only when it ended, 300 s later.
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "the group ended with the command")
        let pid = try backgroundPID()
        XCTAssertTrue(isGone(pid), "the command's background child did not outlive the lock")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(directory)/job.lock"))
    }

    func testAChildThatIgnoresSIGTERMIsKilledAfterKillAfter() throws {
        let started = Date()
        let outcome = try TestSupport.run(
            TestSupport.executable("locktop"),
            [
                "lock", "--dir", directory, "--kill-after", "1", "job", "-c",
                "(trap '' TERM; exec sleep 300) & echo $! > \(directory)/bg.pid; exit 0",
            ])
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        XCTAssertTrue(isGone(try backgroundPID()))
        XCTAssertGreaterThanOrEqual(elapsed, 1, "SIGTERM first, SIGKILL a second later")
        XCTAssertLessThan(elapsed, 8)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(directory)/job.lock"))
    }

    func testAKillOfLocktopKillsTheWholeGroupEvenWhenItIgnoresSIGTERM() throws {
        let lock = try TestSupport.start(
            TestSupport.executable("locktop"),
            ["lock", "--dir", directory, "job", "-c", "trap '' TERM; sleep 300 & echo $! > \(directory)/bg.pid; wait"])
        let pid = try backgroundPID()
        let killed = Date()
        lock.signal(SIGKILL)
        _ = lock.wait(timeout: 10)
        XCTAssertTrue(TestSupport.eventually(timeout: 3) { self.isGone(pid) }, "the watchdog killed the group")
        XCTAssertLessThan(Date().timeIntervalSince(killed), 15, "at once, not when the sleep ends")
    }
}
