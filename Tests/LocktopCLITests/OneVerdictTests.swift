import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// One verdict per lock on every CLI surface, for real Prefect 3.9.1 transactions: a dead holder
/// found by a watching root locktop is stale for `list`, `--check`, `break` and `release` alike;
/// a live holder is never stale, whatever its age; watching locktops are never waiters.
final class OneVerdictTests: XCTestCase {
    var places: PrefectWorkers.Places!
    var directory: String { places.directory }
    var state: String { places.state }
    var home: String { places.home }

    override func setUp() {
        places = PrefectWorkers.Places(for: self)
    }

    func locktop(_ arguments: [String], as user: [String] = [], environment: [String: String] = [:]) throws
        -> TestSupport.Outcome
    {
        let merged = ["XDG_STATE_HOME": user.isEmpty ? state : "\(state)/nobody"].merging(environment) { $1 }
        if user.isEmpty {
            return try TestSupport.run(TestSupport.executable("locktop"), arguments, environment: merged)
        }
        return try TestSupport.run(
            "/usr/bin/setpriv", user + [TestSupport.executable("locktop")] + arguments, environment: merged)
    }

    /// The lock of `key` in `list --json`.
    func listed(_ key: String, _ extra: [String] = [], as user: [String] = []) throws -> [String: Any]? {
        let outcome = try locktop(["list", "--dir", directory, "--json"] + extra, as: user)
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        let document = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any]
        return (document?["locks"] as? [[String: Any]])?.first { $0["key"] as? String == key }
    }

    func watch(_ extra: [String] = []) throws -> TestSupport.Child {
        let events = try TestSupport.start(
            TestSupport.executable("locktop"), ["events", "--dir", directory, "--json"] + extra,
            environment: ["XDG_STATE_HOME": state])
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) {
                FileManager.default.fileExists(atPath: "/proc/\(events.process.processIdentifier)/fd")
            })
        usleep(300_000)
        addTeardownBlock {
            events.signal(SIGTERM)
            _ = events.wait(timeout: 10)
        }
        return events
    }

    func testADeadHoldersLockIsStaleForListCheckBreakAndReleaseAndTheBreakIsLoggedAsShown() throws {
        try PrefectWorkers.requireRoot()
        let workers = try PrefectWorkers(places)
        let events = try watch()
        let holder = try workers.transaction("alpha")
        defer { PrefectWorkers.kill(holder) }
        let pid = holder.process.processIdentifier
        var lock: [String: Any]?
        XCTAssertTrue(
            try TestSupport.eventually(timeout: 5) {
                lock = try listed("alpha")
                return lock?["identity_source"] as? String == "fanotify"
            }, "\(String(describing: lock))")
        let refused = try locktop(["release", "--dir", directory, "alpha"])
        XCTAssertEqual(refused.status, 3)
        XCTAssertTrue(refused.standardError.contains("is held by"), refused.standardError)
        XCTAssertTrue(
            refused.standardError.contains("(holder pid \(pid) is alive); refusing without --force"),
            "release judges with the published identity, never 'holder process unknown': \(refused.standardError)")

        let waiter = try workers.waiter("alpha")
        defer { PrefectWorkers.kill(waiter) }
        PrefectWorkers.kill(holder)
        XCTAssertTrue(try TestSupport.eventually(timeout: 5) { try listed("alpha")?["state"] as? String == "stale" })
        let check = try locktop(["list", "--dir", directory, "--check"])
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.standardError.contains("1 stale"), check.standardError)
        let dryRun = try locktop(["break", "--dir", directory, "--stale", "--dry-run"])
        XCTAssertEqual(dryRun.status, 0, dryRun.standardError)
        XCTAssertTrue(
            dryRun.standardOutput.contains("would break alpha"),
            "list --check || break --stale fixes it: \(dryRun.standardOutput)")
        XCTAssertTrue(
            dryRun.standardOutput.contains("stale, holder pid \(pid) (prefect_lock.py transaction "),
            dryRun.standardOutput)

        // $USER is anyone's to set: the audit log names the real uid.
        let broke = try locktop(["break", "--dir", directory, "--stale"], environment: ["USER": "", "LOGNAME": ""])
        XCTAssertEqual(broke.status, 0, broke.standardError)
        XCTAssertTrue(
            waiter.waitForOutput(containing: "acquired", timeout: 10),
            "the Prefect waiter gets in: \(waiter.standardOutput)")
        let line = try XCTUnwrap(
            try String(contentsOfFile: "\(state)/locktop/audit.log", encoding: .utf8).split(separator: "\n").first)
        let entry = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertTrue(
            (entry["reason"] as? String)?.hasPrefix(
                "stale: holder pid \(pid) (prefect_lock.py transaction ") == true,
            "the reason the operator was shown: \(entry)")
        XCTAssertTrue((entry["broken_by"] as? String)?.hasPrefix("root@") == true, "\(entry)")
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) { events.standardOutput.contains(#""type": "broken", "key": "alpha""#) },
            events.standardOutput)
    }

    func testALiveHolderIsNeverStaleWhateverItsAgeAndAnUnprivilegedOperatorSeesASuspect() throws {
        try PrefectWorkers.requireRoot()
        let workers = try PrefectWorkers(places)
        let events = try watch(["--stale-after", "2s"])
        let holder = try workers.transaction("longkey")
        defer { PrefectWorkers.kill(holder) }
        let pid = holder.process.processIdentifier
        sleep(3)
        let lock = try XCTUnwrap(try listed("longkey", ["--stale-after", "2s"]))
        XCTAssertEqual(lock["state"] as? String, "held", "fanotify knows pid \(pid) is alive: \(lock)")
        XCTAssertEqual(lock["reason"] as? String, "holder pid \(pid) is alive")
        for flags in [["--stale"], ["--suspect"], ["--older-than", "1s"]] {
            let dryRun = try locktop(["break", "--dir", directory, "--stale-after", "2s", "--dry-run"] + flags)
            XCTAssertTrue(dryRun.standardOutput.hasPrefix("nothing to break"), "\(flags): \(dryRun.standardOutput)")
        }
        XCTAssertFalse(
            events.standardOutput.contains(#""type": "stale""#)
                || events.standardOutput.contains(#""type": "suspect""#),
            events.standardOutput)

        // A second uid has no fanotify and no published identity: nothing proves the holder dead, so suspect, never stale.
        let suspect = try XCTUnwrap(try listed("longkey", ["--stale-after", "2s"], as: PrefectWorkers.asNobody))
        XCTAssertEqual(suspect["state"] as? String, "suspect", "\(suspect)")
        XCTAssertTrue(
            (suspect["reason"] as? String)?.contains("longer than --stale-after 2s; nothing shows its holder dead")
                == true)
        let check = try locktop(
            ["list", "--dir", directory, "--stale-after", "2s", "--check"], as: PrefectWorkers.asNobody)
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.standardError.contains("1 suspect"), check.standardError)
        let cron = try locktop(
            ["break", "--dir", directory, "--stale-after", "2s", "--stale"], as: PrefectWorkers.asNobody)
        XCTAssertEqual(cron.status, 0, cron.standardError)
        XCTAssertTrue(cron.standardOutput.hasPrefix("nothing to break (stale)"), cron.standardOutput)
        let asked = try locktop(
            ["break", "--dir", directory, "--stale-after", "2s", "--suspect", "--dry-run"], as: PrefectWorkers.asNobody)
        XCTAssertTrue(asked.standardOutput.contains("would break longkey"), asked.standardOutput)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/longkey.lock"))
    }

    func testOtherLocktopsAreNeverWaitersAndAHandOffKeepsItsIdentity() throws {
        try PrefectWorkers.requireRoot()
        let workers = try PrefectWorkers(places)
        let events = try watch()
        // Another operator watching, and one listing in a loop: both read the lock file.
        _ = try PrefectWorkers.otherWatcher(of: directory, for: self)
        let holder = try workers.transaction("beta")
        defer { PrefectWorkers.kill(holder) }
        let waiter = try workers.waiter("beta")
        defer { PrefectWorkers.kill(waiter) }
        var lock: [String: Any]?
        XCTAssertTrue(
            try TestSupport.eventually(timeout: 10) {
                lock = try listed("beta")
                return !((lock?["waiters"] as? [[String: Any]]) ?? []).isEmpty
            }, "\(String(describing: lock))")
        for _ in 0..<5 {
            _ = try locktop(["break", "--dir", directory, "--dry-run"])
            lock = try listed("beta")
            let pids = ((lock?["waiters"] as? [[String: Any]]) ?? []).compactMap { $0["pid"] as? Int }
            XCTAssertEqual(
                pids, [Int(waiter.process.processIdentifier)],
                "only the Prefect waiter: \(String(describing: lock?["waiters"]))")
            XCTAssertEqual(lock?["blocked_waiters"] as? Int, 0, "a live holder blocks nobody")
            usleep(300_000)
        }
        PrefectWorkers.kill(waiter)
        PrefectWorkers.kill(holder)

        // Three workers hand one lock round; every sample of list names the holder fanotify saw.
        let script = """
            import sys, time, uuid
            from pathlib import Path
            from prefect.locking.filesystem import FileSystemLockManager
            manager = FileSystemLockManager(Path(sys.argv[1]))
            end = time.time() + 8
            while time.time() < end:
                holder = str(uuid.uuid4())
                manager.acquire_lock("gamma", holder=holder)
                time.sleep(0.5)
                manager.release_lock("gamma", holder=holder)
            """
        let looping = try (0..<3).map { _ in
            try TestSupport.start(
                workers.python, ["-c", script, directory], environment: ["PREFECT_HOME": home, "DO_NOT_TRACK": "1"])
        }
        defer { for worker in looping { PrefectWorkers.kill(worker) } }
        XCTAssertTrue(
            TestSupport.eventually(timeout: 30) {
                FileManager.default.fileExists(atPath: "\(self.directory)/gamma.lock")
            })
        sleep(1)
        // A lock younger than the watcher's own latency (tens of milliseconds in a debug build) may
        // not be published yet; every older sample must name the holder. (Before, most samples did not.)
        var sources: [String] = []
        for _ in 0..<12 {
            if let sample = try listed("gamma"), let age = sample["held_for_seconds"] as? Double, age >= 0.1 {
                sources.append(sample["identity_source"] as? String ?? "?")
            }
            usleep(250_000)
        }
        XCTAssertGreaterThanOrEqual(sources.count, 6, "the lock is held most of the time")
        XCTAssertEqual(Set(sources), ["fanotify"], "the published identity keeps up with hand-offs: \(sources)")
    }
}
