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

    /// A worker of another uid runs `locktop lock`; root's `break --stale` must not let a second
    /// worker in while the first one's command still runs.
    func testAfterAKillOfLocktopItsLockIsNotStaleUntilTheGroupIsGone() throws {
        try PrefectWorkers.requireRoot()
        let state = TestSupport.temporaryDirectory(for: self)
        let workerState = TestSupport.temporaryDirectory(for: self)
        XCTAssertEqual(chown(workerState, 65534, 65534), 0)
        XCTAssertEqual(chmod(directory, 0o777), 0)
        func locktop(_ arguments: [String]) throws -> TestSupport.Outcome {
            try TestSupport.run(
                TestSupport.executable("locktop"), arguments + ["--dir", directory],
                environment: ["XDG_STATE_HOME": state])
        }
        // Under a shell that stays: locktop's process group (the watchdog's) is then not orphaned
        // when locktop dies, so the kernel does not SIGCONT the paused watchdog.
        let script = "\(state)/run.sh"
        try """
        export D="$2"
        "$1" lock --dir "$D" job -c 'sleep 300 & echo $! > "$D/bg.pid"; wait' &
        echo $! > "$D/locktop.pid"
        wait
        exec sleep 600
        """.write(toFile: script, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(script, 0o755), 0)
        let shell = try TestSupport.start(
            "/usr/bin/setpriv",
            PrefectWorkers.asNobody + ["/bin/sh", script, TestSupport.executable("locktop"), directory],
            environment: ["XDG_STATE_HOME": workerState])
        defer { PrefectWorkers.kill(shell) }
        let pid = try backgroundPID()
        let locktopPID = try XCTUnwrap(
            Int32(
                try String(contentsOfFile: "\(directory)/locktop.pid", encoding: .utf8).trimmingCharacters(
                    in: .whitespacesAndNewlines)))
        let content = try XCTUnwrap(
            LockFileContent(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/job.lock")))))
        XCTAssertEqual(try XCTUnwrap(FileSystem.status("\(directory)/job.lock")).owner, 65534, "the worker's lock")
        let guardian = try XCTUnwrap(content.guardianProcessID, "the lock names locktop's watchdog")
        XCTAssertEqual(content.guardianStartTicks, ProcessIdentity.startTicks(of: guardian))
        // The watchdog paused: locktop's death leaves the command's background child running for now.
        XCTAssertEqual(kill(guardian, SIGSTOP), 0)
        XCTAssertEqual(kill(locktopPID, SIGKILL), 0)
        XCTAssertTrue(TestSupport.eventually { self.isGone(locktopPID) })
        let ps = try TestSupport.run("/bin/ps", ["-o", "pid,ppid,pgid,stat,cmd", "-p", "\(pid),\(guardian)"])
        XCTAssertFalse(isGone(pid), "the group outlives locktop while its watchdog is paused: \(ps.standardOutput)")
        let listed = try locktop(["list", "--json"])
        XCTAssertTrue(listed.standardOutput.contains(#""state": "held""#), listed.standardOutput)
        XCTAssertTrue(listed.standardOutput.contains("its watchdog pid \(guardian) is alive"), listed.standardOutput)
        XCTAssertEqual(try locktop(["break", "--stale"]).status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/job.lock"), "not stale: not broken")
        // The watchdog goes on: it kills the group, and lives until none of it is left.
        XCTAssertEqual(kill(guardian, SIGCONT), 0)
        XCTAssertTrue(TestSupport.eventually(timeout: 10) { self.isGone(guardian) }, "the watchdog ends with the group")
        XCTAssertTrue(isGone(pid), "the group was gone before its watchdog")
        let broken = try locktop(["break", "--stale"])
        XCTAssertEqual(broken.status, 0, broken.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(directory)/job.lock"), "stale once the group is gone")
    }
}
