import Foundation
import LocktopTestSupport
import XCTest

/// Deadlocks between real Prefect 3.9.1 processes, as root (fanotify names each lock's holder
/// and waiters): `events` reports the cycle once, `list --check` fails on it, and `serve` counts it.
final class DeadlockTests: XCTestCase {
    var places: PrefectWorkers.Places!
    var workers: PrefectWorkers!
    var children: [TestSupport.Child] = []

    override func setUpWithError() throws {
        try PrefectWorkers.requireRoot()
        places = PrefectWorkers.Places(for: self)
        workers = try PrefectWorkers(places)
    }

    override func tearDown() {
        for child in children { PrefectWorkers.kill(child) }
    }

    func locktop(_ arguments: [String]) throws -> TestSupport.Outcome {
        try TestSupport.run(
            TestSupport.executable("locktop"), arguments, environment: ["XDG_STATE_HOME": places.state])
    }

    /// `locktop events --json` on the workers' directory.
    func watch() throws -> TestSupport.Child {
        let events = try TestSupport.start(
            TestSupport.executable("locktop"), ["events", "--dir", places.directory, "--json"],
            environment: ["XDG_STATE_HOME": places.state])
        children.append(events)
        usleep(500_000)
        return events
    }

    /// The `deadlock` events `events` printed.
    func deadlocks(_ events: TestSupport.Child) -> [[String: Any]] {
        events.standardOutput.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]).flatMap {
                $0["type"] as? String == "deadlock" ? $0 : nil
            }
        }
    }

    /// Starts a nested transaction for each pair, once each holds its first key lets each go for its second.
    func cycle(_ pairs: [(String, String)]) throws -> [TestSupport.Child] {
        let flows = try pairs.map { try workers.nestedTransaction($0.0, then: $0.1) }
        children += flows
        for flow in flows { try flow.closeInput() }
        return flows
    }

    func testTwoFlowsTakingTwoKeysInOppositeOrdersAreADeadlockReportedOnce() throws {
        let events = try watch()
        let flows = try cycle([("a", "b"), ("b", "a")])
        XCTAssertTrue(
            TestSupport.eventually(timeout: 20) { !self.deadlocks(events).isEmpty },
            "a deadlock event: \(events.standardOutput.suffix(3000))")
        let event = try XCTUnwrap(deadlocks(events).first)
        XCTAssertEqual(event["certain"] as? Bool, true, "\(event)")
        let cycle = try XCTUnwrap(event["cycle"] as? [[String: Any]])
        XCTAssertEqual(cycle.compactMap { $0["key"] as? String }, ["a", "b"])
        XCTAssertEqual(
            cycle.compactMap { $0["holder_pid"] as? Int }, flows.map { Int($0.process.processIdentifier) },
            "a is held by the first flow, which waits for b, held by the second")
        XCTAssertEqual(
            event["detail"] as? String,
            "a ⇄ b (pid \(flows[0].process.processIdentifier), pid \(flows[1].process.processIdentifier))")
        // list --check judges with what the watcher published, and fails on it.
        XCTAssertTrue(
            try TestSupport.eventually(timeout: 10) {
                let checked = try self.locktop(["list", "--dir", self.places.directory, "--check"])
                return checked.status == 1 && checked.standardError.contains("check: deadlock: a ⇄ b")
            })
        // The blocking tree: a, held by the first flow, waited for by the second, which holds b,
        // waited for by the first.
        let tree = try locktop(["list", "--dir", places.directory, "--blocking", "--json"])
        let document = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(tree.standardOutput.utf8)) as? [String: Any],
            tree.standardOutput)
        let roots = try XCTUnwrap(document["blocking"] as? [[String: Any]])
        XCTAssertEqual(roots.map { $0["key"] as? String }, ["a"])
        let waiter = try XCTUnwrap((roots.first?["waiters"] as? [[String: Any]])?.first)
        XCTAssertEqual(waiter["pid"] as? Int, Int(flows[1].process.processIdentifier))
        XCTAssertEqual(((waiter["holds"] as? [[String: Any]])?.first)?["key"] as? String, "b")
        let text = try locktop(["list", "--dir", places.directory, "--blocking"]).standardOutput
        XCTAssertTrue(text.hasPrefix("a  held by pid \(flows[0].process.processIdentifier) "), text)
        XCTAssertTrue(text.contains("   └─ b  held by pid \(flows[1].process.processIdentifier) "), text)
        usleep(3_000_000)
        XCTAssertEqual(deadlocks(events).count, 1, "reported once while it lasts")
        // One flow killed: no cycle is left, but its lock stays, stale, with the other flow blocked
        // behind it. Breaking it lets the other flow in.
        PrefectWorkers.kill(flows[0])
        var checked = try locktop(["list", "--dir", places.directory, "--check"])
        XCTAssertTrue(
            try TestSupport.eventually(timeout: 10) {
                checked = try self.locktop(["list", "--dir", self.places.directory, "--check"])
                return !checked.standardError.contains("deadlock") && checked.standardError.contains("stale")
            }, checked.standardError)
        XCTAssertEqual(try locktop(["break", "--dir", places.directory, "--stale"]).status, 0)
        XCTAssertTrue(flows[1].waitForOutput(containing: "acquired a", timeout: 30), flows[1].standardError)
    }

    func testAThreeFlowCycleIsOneDeadlockAndServeCountsIt() throws {
        let events = try watch()
        let port = RedisServer.freePort()
        let serve = try TestSupport.start(
            TestSupport.executable("locktop"),
            ["serve", "--dir", places.directory, "--listen", "127.0.0.1:\(port)"],
            environment: ["XDG_STATE_HOME": places.state])
        children.append(serve)
        let flows = try cycle([("a", "b"), ("b", "c"), ("c", "a")])
        XCTAssertTrue(
            TestSupport.eventually(timeout: 20) { !self.deadlocks(events).isEmpty },
            "a deadlock event: \(events.standardOutput.suffix(3000))")
        let event = try XCTUnwrap(deadlocks(events).first)
        let pids = flows.map { "pid \($0.process.processIdentifier)" }.joined(separator: ", ")
        XCTAssertEqual(event["detail"] as? String, "a → b → c → a (\(pids))")
        XCTAssertEqual(event["certain"] as? Bool, true)
        var exposition = ""
        XCTAssertTrue(
            TestSupport.eventually(timeout: 10) {
                exposition =
                    (try? TestSupport.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(port)/metrics"]))?.standardOutput
                    ?? ""
                return exposition.contains(#"locktop_deadlocks{source="\#(self.places.directory)"} 1.0"#)
            }, exposition)
        XCTAssertTrue(exposition.contains(#"locktop_possible_deadlocks{source="\#(places.directory)"} 0.0"#))
    }

    func testNestedSerializableTransactionsOnOneKeyAreAPossibleDeadlock() throws {
        let events = try watch()
        let flow = try cycle([("k", "k")])[0]
        XCTAssertTrue(
            TestSupport.eventually(timeout: 20) { !self.deadlocks(events).isEmpty },
            "a deadlock event: \(events.standardOutput.suffix(3000))")
        let event = try XCTUnwrap(deadlocks(events).first)
        XCTAssertEqual(event["detail"] as? String, "k ⟲ (pid \(flow.process.processIdentifier))")
        XCTAssertEqual(event["certain"] as? Bool, false, "fanotify does not tell the threads apart")
        XCTAssertFalse(flow.standardOutput.contains("acquired k\nacquired k"), "the inner transaction never gets in")
    }

    func testHeavyOrdinaryContentionIsNoDeadlock() throws {
        let events = try watch()
        let work = TestSupport.temporaryDirectory(for: self)
        // Six workers on two keys, each taking one at a time, for 60 s.
        let contenders = try (0..<6).map { index in
            try TestSupport.start(
                workers.python,
                [
                    TestSupport.prefectScript("prefect_lock.py"), "contend", places.directory,
                    index % 2 == 0 ? "a" : "b",
                    work, "1000000",
                ], environment: ["PREFECT_HOME": places.home, "DO_NOT_TRACK": "1"])
        }
        children += contenders
        let started = Date()
        while Date().timeIntervalSince(started) < 60 {
            XCTAssertEqual(deadlocks(events).count, 0, "no deadlock: \(deadlocks(events))")
            usleep(1_000_000)
        }
        XCTAssertTrue(events.standardOutput.contains(#""type": "waiting""#), "the workers did wait for each other")
        XCTAssertEqual(deadlocks(events).count, 0)
    }
}
