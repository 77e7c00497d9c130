import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// `locktop lock` as a lease, with real processes: the command dies with its holder, renewal keeps a
/// real Prefect acquirer out, and a lost lock is reported at once.
final class LockLeaseTests: XCTestCase {
    var directory = ""
    var state = ""
    var lockPath: String { "\(directory)/k.lock" }

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
        state = TestSupport.temporaryDirectory(for: self)
    }

    func start(_ arguments: [String]) throws -> TestSupport.Child {
        try TestSupport.start(
            TestSupport.executable("locktop"), ["lock", "--dir", directory] + arguments,
            environment: ["XDG_STATE_HOME": state])
    }

    func locktop(_ arguments: [String]) throws -> TestSupport.Outcome {
        try TestSupport.run(TestSupport.executable("locktop"), arguments, environment: ["XDG_STATE_HOME": state])
    }

    /// Whether `pid` is a process that has not exited (a zombie has).
    func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// Breaks the lock as an operator's locktop would, in this process.
    func breakLock(as operatorName: String) throws {
        let locks = try DirectoryHandle.open(directory)
        let observation = try LockFiles.observe("k.lock", in: locks, now: Date(), gracePeriod: 2)
        let breaker = LockBreaker(auditLog: AuditLog(path: "\(state)/locktop/audit.log"), operatorName: operatorName)
        XCTAssertTrue(try breaker.breakLock("k.lock", in: locks, judged: observation, key: "k", reason: "forced: held"))
    }

    func testKillingTheHolderWithSigkillKillsTheCommand() throws {
        let pidFile = "\(state)/command.pid"
        let wrapper = try start(["k", "-c", "echo $$ > \(pidFile); exec sleep 60"])
        var commandPID: Int32?
        XCTAssertTrue(
            TestSupport.eventually {
                commandPID = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap {
                    Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
                }
                return commandPID != nil
            })
        let pid = try XCTUnwrap(commandPID)
        XCTAssertTrue(isRunning(pid))
        wrapper.signal(SIGKILL)
        _ = wrapper.wait(timeout: 10)
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) { !self.isRunning(pid) }, "the command dies with the lock's holder")
        // Stale once locktop's watchdog, which the lock names, has seen the whole group go.
        var list = try locktop(["list", "--dir", directory, "--json"])
        XCTAssertTrue(
            try TestSupport.eventually(timeout: 5) {
                list = try locktop(["list", "--dir", directory, "--json"])
                return list.standardOutput.contains(#""state": "stale""#)
            }, "the holder's lock is left stale, for anyone to break: \(list.standardOutput)")
    }

    func testRenewalKeepsARealPrefectAcquirerOutForTheWholeRun() throws {
        let python = try TestSupport.prefectPython("3.9.1")
        let finished = "\(state)/finished"
        let holder = try start(["k", "--hold-timeout", "1", "-c", "sleep 3; touch \(finished)"])
        XCTAssertTrue(TestSupport.eventually { FileManager.default.fileExists(atPath: self.lockPath) })
        let started = Date()
        let prefect = try TestSupport.run(
            python,
            [TestSupport.prefectScript("prefect_lock.py"), "acquire", directory, "k", "prefect-waiter", "none", "20"],
            environment: ["PREFECT_HOME": state])
        XCTAssertEqual(prefect.standardOutput.split(separator: "\n").last, "acquired", prefect.standardError)
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: finished), "Prefect got the lock only after the command ended")
        XCTAssertGreaterThan(
            Date().timeIntervalSince(started), 2, "the 1 s hold timeout was renewed, not left to expire")
        XCTAssertEqual(holder.wait(timeout: 10).status, 0)
    }

    func testALostLockIsReportedWithin100msAndTermStopsTheCommand() throws {
        let child = try start(["k", "--on-lost=term", "--", "/bin/sleep", "60"])
        XCTAssertTrue(TestSupport.eventually { FileManager.default.fileExists(atPath: self.lockPath) })
        usleep(200_000)
        try breakLock(as: "tester@ops:1")
        let broken = Date()
        XCTAssertTrue(
            TestSupport.eventually(timeout: 3) { child.standardError.contains("was lost") }, child.standardError)
        let delay = Date().timeIntervalSince(broken)
        XCTAssertLessThan(delay, 0.1, "reported \(Int(delay * 1000)) ms after the break")
        let outcome = child.wait(timeout: 10)
        XCTAssertEqual(outcome.status, 75, outcome.standardError)
        XCTAssertTrue(
            outcome.standardError.contains(#"lock "k" was lost (broken by tester@ops:1, forced: held)"#),
            outcome.standardError)
    }

    func testWithWarnTheCommandFinishesAndTheNewHoldersLockIsLeftAlone() throws {
        let running = "\(state)/running"
        let child = try start(["k", "-c", "touch \(running); sleep 1"])
        XCTAssertTrue(TestSupport.eventually { FileManager.default.fileExists(atPath: running) }, "the command runs")
        try breakLock(as: "tester")
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "next-holder", acquireTimeout: 0))
        let outcome = child.wait(timeout: 10)
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        XCTAssertTrue(outcome.standardError.contains("was lost (broken by tester, forced: held"), outcome.standardError)
        guard case .readable(let snapshot) = try store.observeLock(key: "k") else {
            return XCTFail("the new holder's lock is gone")
        }
        XCTAssertEqual(snapshot.content.holder, "next-holder")
    }

    func testFlockStyleFlagsEnvironmentAndVerbose() throws {
        let holder = try start(["k", "--", "/bin/sleep", "30"])
        defer {
            holder.signal(SIGTERM)
            _ = holder.wait(timeout: 10)
        }
        XCTAssertTrue(TestSupport.eventually { FileManager.default.fileExists(atPath: self.lockPath) })
        XCTAssertEqual(try locktop(["lock", "--dir", directory, "k", "-n", "--", "true"]).status, 75)
        XCTAssertEqual(try locktop(["lock", "--dir", directory, "k", "-n", "-E", "9", "--", "true"]).status, 9)
        let waited = try locktop(["lock", "--dir", directory, "k", "-w", "0.4", "--verbose", "-c", "true"])
        XCTAssertEqual(waited.status, 75)
        XCTAssertTrue(
            waited.standardError.contains(#"waiting for "k", held by "#)
                && waited.standardError.contains("(pid \(holder.process.processIdentifier), alive)"),
            waited.standardError)
        let shell = try locktop([
            "lock", "--dir", directory, "other.key", "--verbose", "-c",
            #"echo "$LOCKTOP_KEY|$LOCKTOP_HOLDER|$LOCKTOP_LOCK_FILE""#,
        ])
        XCTAssertEqual(shell.status, 0, shell.standardError)
        let fields = shell.standardOutput.trimmingCharacters(in: .newlines).split(separator: "|").map(String.init)
        XCTAssertEqual(fields.first, "other.key")
        XCTAssertTrue(fields[1].hasSuffix(":MainThread"), fields[1])
        XCTAssertEqual(fields.last, "\(directory)/other.lock")
        XCTAssertTrue(shell.standardError.contains(#"got "other.key" after 0.0s"#), shell.standardError)
        XCTAssertEqual(try locktop(["lock", "--dir", directory, "k", "-c", "true", "--", "true"]).status, 64)
    }
}
