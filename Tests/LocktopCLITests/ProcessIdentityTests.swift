import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// Who holds and who waits, for real Prefect 3.9.1 transactions whose lock files name no process:
/// as root, fanotify tells; without root, locktop says it cannot tell.
final class ProcessIdentityTests: XCTestCase {
    var places: PrefectWorkers.Places!
    var directory: String { places.directory }
    var state: String { places.state }
    var home: String { places.home }
    let key = "crash-me"

    override func setUp() {
        places = PrefectWorkers.Places(for: self)
    }

    func requireRoot() throws {
        try PrefectWorkers.requireRoot()
    }

    func prefect(_ python: String, _ arguments: [String]) throws -> TestSupport.Child {
        try TestSupport.start(
            python, [TestSupport.prefectScript("prefect_lock.py")] + arguments,
            environment: ["PREFECT_HOME": home, "DO_NOT_TRACK": "1"], input: true)
    }

    /// The one lock of `list --json`, as locktop judges it now.
    func listedLock(as user: [String] = []) throws -> [String: Any]? {
        let locktop = TestSupport.executable("locktop")
        let outcome =
            user.isEmpty
            ? try TestSupport.run(
                locktop, ["list", "--dir", directory, "--json"], environment: ["XDG_STATE_HOME": state])
            : try TestSupport.run(
                "/usr/bin/setpriv", user + [locktop, "list", "--dir", directory, "--json"],
                environment: ["XDG_STATE_HOME": state])
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        let document = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any]
        XCTAssertEqual(document?["schema"] as? Int, 2)
        return (document?["locks"] as? [[String: Any]])?.first
    }

    func testAKilledTransactionHolderIsStaleWithItsPidAndItsWaitersAreNamed() throws {
        try requireRoot()
        let python = try TestSupport.prefectPython("3.9.1")
        let events = try TestSupport.start(
            TestSupport.executable("locktop"), ["events", "--dir", directory, "--json", "--blocked-after", "1s"],
            environment: ["XDG_STATE_HOME": state])
        defer {
            events.signal(SIGTERM)
            _ = events.wait(timeout: 10)
        }
        usleep(300_000)
        let holder = try prefect(python, ["transaction", directory, key])
        defer {
            holder.signal(SIGKILL)
            _ = holder.wait(timeout: 10)
        }
        XCTAssertTrue(holder.waitForOutput(containing: "acquired", timeout: 60), holder.standardOutput)
        let pid = holder.process.processIdentifier
        var lock: [String: Any]?
        XCTAssertTrue(
            try TestSupport.eventually(timeout: 5) {
                lock = try listedLock()
                return (lock?["holder_process"] as? [String: Any])?["pid"] as? Int == Int(pid)
            }, "list names the live holder's pid: \(String(describing: lock))")
        let process = try XCTUnwrap(lock?["holder_process"] as? [String: Any])
        XCTAssertTrue((process["command"] as? String)?.contains("prefect_lock.py transaction") == true, "\(process)")
        XCTAssertEqual(process["alive"] as? Bool, true)
        XCTAssertEqual(lock?["identity_source"] as? String, "fanotify")
        XCTAssertEqual(lock?["state"] as? String, "held")
        XCTAssertEqual(lock?["liveness"] as? String, "alive")

        let waiters = try (0..<2).map { _ in
            try prefect(python, ["acquire", directory, key, UUID().uuidString, "none", "60"])
        }
        defer {
            for waiter in waiters {
                waiter.signal(SIGKILL)
                _ = waiter.wait(timeout: 10)
            }
        }
        let waiterPIDs = Set(waiters.map { Int($0.process.processIdentifier) })
        XCTAssertTrue(
            try TestSupport.eventually(timeout: 30) {
                lock = try listedLock()
                return Set(((lock?["waiters"] as? [[String: Any]]) ?? []).compactMap { $0["pid"] as? Int })
                    == waiterPIDs
            }, "two Prefect waiters appear with their pids: \(String(describing: lock?["waiters"]))")

        holder.signal(SIGKILL)
        let killed = Date()
        XCTAssertTrue(
            try TestSupport.eventually(timeout: 5) {
                lock = try listedLock()
                return lock?["state"] as? String == "stale"
            }, "\(String(describing: lock))")
        XCTAssertLessThan(Date().timeIntervalSince(killed), 3, "stale within 3 s of the kill")
        XCTAssertTrue(
            (lock?["reason"] as? String)?.hasPrefix("holder pid \(pid) (prefect_lock.py transaction ")
                == true,
            String(describing: lock?["reason"]))
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) { events.standardOutput.contains(#""type": "blocked""#) },
            events.standardOutput)
        let lines = events.standardOutput.split(separator: "\n").map(String.init)
        let documented = try DocumentedJSON.load()
        for line in lines { documented.checkEvent(line) }
        XCTAssertTrue(
            lines.contains { $0.contains(#""type": "stale""#) && $0.contains("holder pid \(pid)") },
            events.standardOutput)
        for waiter in waiterPIDs {
            XCTAssertTrue(
                lines.contains { $0.contains(#""type": "waiting""#) && $0.contains(#""pid": \#(waiter)"#) },
                events.standardOutput)
        }
    }

    func testWithoutRootAPlainPrefectLockIsUnknownAndLocktopSaysWhy() throws {
        try requireRoot()
        let python = try TestSupport.prefectPython("3.9.1")
        let nobody = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        let holder = try prefect(python, ["transaction", directory, key])
        defer {
            holder.signal(SIGKILL)
            _ = holder.wait(timeout: 10)
        }
        XCTAssertTrue(holder.waitForOutput(containing: "acquired", timeout: 60), holder.standardOutput)
        let lock = try XCTUnwrap(try listedLock(as: nobody))
        XCTAssertEqual(lock["state"] as? String, "held")
        XCTAssertEqual(lock["liveness"] as? String, "unknown", "never a healthy held")
        XCTAssertEqual(lock["reason"] as? String, "holder process unknown")
        XCTAssertEqual(lock["identity_source"] as? String, "none")
        XCTAssertTrue(lock["holder_process"] is NSNull)
        // setpriv execs locktop in its own process, so the signal reaches locktop (whose directory only root may search).
        let events = try TestSupport.start(
            "/usr/bin/setpriv", nobody + [TestSupport.executable("locktop"), "events", "--dir", directory],
            environment: ["XDG_STATE_HOME": state])
        XCTAssertTrue(
            TestSupport.eventually(timeout: 10) { events.standardError.contains("identity:") }, events.standardError)
        events.signal(SIGINT)
        let outcome = events.wait(timeout: 10)
        XCTAssertTrue(
            outcome.standardError.contains(
                "identity: fanotify needs root; run with sudo or install the Prefect helper"), outcome.standardError)
    }
}
