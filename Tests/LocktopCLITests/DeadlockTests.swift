import Foundation
import LockJournal
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

    /// Six Prefect 3.9.1 workers on two keys for a minute, each logging its own holds and waits,
    /// under `events --record`: no deadlock is ever reported; `report` gives the workers' own
    /// acquisition counts exactly and their hold and wait times within 5 ms; `replay` plays the
    /// minute back under tmux, and its keys pause, step and seek.
    func testARecordedMinuteOfContentionIsReportedAsTheWorkersLoggedItAndReplays() throws {
        let work = TestSupport.temporaryDirectory(for: self)
        let journal = work + "/journal.db"
        // The watch that keeps time is a release build, as operators run it (scripts/test.sh builds it).
        guard let recorder = ProcessInfo.processInfo.environment["LOCKTOP_RELEASE_EXECUTABLE"] else {
            let message = "LOCKTOP_RELEASE_EXECUTABLE names no release locktop; scripts/test.sh builds one"
            if TestSupport.isCI { XCTFail(message) }
            throw XCTSkip(message)
        }
        let events = try TestSupport.start(
            recorder,
            ["events", "--dir", places.directory, "--json", "--record", journal],
            environment: ["XDG_STATE_HOME": places.state])
        children.append(events)
        usleep(500_000)
        let logs = (0..<6).map { work + "/worker-\($0).log" }
        let contenders = try logs.enumerated().map { index, log in
            try TestSupport.start(
                workers.python,
                [
                    TestSupport.prefectScript("prefect_lock.py"), "timed", places.directory, index % 2 == 0 ? "a" : "b",
                    "60", log,
                ], environment: ["PREFECT_HOME": places.home, "DO_NOT_TRACK": "1"])
        }
        children += contenders
        for contender in contenders {
            let outcome = contender.wait(timeout: 120)
            XCTAssertEqual(outcome.status, 0, outcome.standardError)
            XCTAssertEqual(deadlocks(events).count, 0, "no deadlock: \(deadlocks(events))")
        }
        // The last waits end within the waiter timeout.
        usleep(3_000_000)
        events.signal(SIGTERM)
        _ = events.wait()
        XCTAssertEqual(deadlocks(events).count, 0)

        // Each worker logs, per hold, its first read of the lock file, its creation of it and its
        // removal: the calls the watch sees.
        struct Hold {
            var pid: Int32, key: String, firstLook: Double, created: Double, removed: Double
        }
        let holds: [Hold] = logs.flatMap { log in
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let pid = object["pid"] as? Int, let key = object["key"] as? String,
                    let firstLook = object["first_look"] as? Double, let created = object["created"] as? Double,
                    let removed = object["removed"] as? Double
                else { return nil }
                return Hold(pid: Int32(pid), key: key, firstLook: firstLook, created: created, removed: removed)
            }
        }
        XCTAssertGreaterThan(holds.count, 300, "six workers holding 50-150 ms for a minute")

        let report = try locktop(["report", "--json", journal])
        XCTAssertEqual(report.status, 0, report.standardError)
        let document = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any])
        let locks = try XCTUnwrap(document["locks"] as? [[String: Any]])
        func percentile(_ values: [Double], _ fraction: Double) -> Double {
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * fraction).rounded(.up)) - 1))]
        }
        let opened = try Journal(readingAt: journal)
        let recordedWaits = try opened.events().map(\.event).filter { $0.kind == .waited }
        for key in ["a", "b"] {
            let lock = try XCTUnwrap(locks.first { $0["key"] as? String == key }, "\(key) is in the report")
            let logged = holds.filter { $0.key == key }
            XCTAssertEqual(lock["acquisitions"] as? Int, logged.count, "\(key): every acquisition, exactly")
            let hold = try XCTUnwrap(lock["hold_seconds"] as? [String: Any])
            let heldTimes = logged.map { $0.removed - $0.created }
            for (name, fraction) in [("p50", 0.5), ("p95", 0.95), ("max", 1.0)] {
                let reported = try XCTUnwrap(hold[name] as? Double)
                XCTAssertEqual(reported, percentile(heldTimes, fraction), accuracy: 0.005, "\(key): hold \(name)")
            }
            // Each recorded wait is a worker's: its pid, ending as that worker got the lock.
            var matched: [Double] = []
            for wait in recordedWaits where wait.key == key {
                let end = wait.time.timeIntervalSince1970
                guard
                    let worker = logged.first(where: { $0.pid == wait.processID && abs($0.created - end) < 0.05 })
                else {
                    XCTFail("\(key): a recorded wait no worker logged: pid \(wait.processID ?? 0) until \(end)")
                    continue
                }
                matched.append(worker.created - worker.firstLook)
            }
            // A worker that waited through several of Prefect's polls was seen waiting.
            let longWaits = logged.filter { $0.created - $0.firstLook > 0.3 }
            XCTAssertGreaterThan(longWaits.count, 10, "\(key): three workers on one key wait for each other")
            XCTAssertGreaterThanOrEqual(matched.count, longWaits.count, "\(key): every long wait was recorded")
            let waits = try XCTUnwrap(lock["wait_seconds"] as? [String: Any])
            for (name, fraction) in [("p50", 0.5), ("p95", 0.95), ("max", 1.0)] {
                let reported = try XCTUnwrap(waits[name] as? Double)
                XCTAssertEqual(reported, percentile(matched, fraction), accuracy: 0.005, "\(key): wait \(name)")
            }
            XCTAssertGreaterThanOrEqual(lock["deepest_queue"] as? Int ?? 0, 1)
        }

        // The same minute as text, as a timeline, and as a picture.
        let text = try locktop(["report", journal])
        XCTAssertEqual(text.status, 0, text.standardError)
        XCTAssertTrue(text.standardOutput.contains("most time waited:\n  1. "), text.standardOutput)
        let timeline = try locktop(["report", "--timeline", journal])
        let lanes = timeline.standardOutput.split(separator: "\n").filter { $0.hasPrefix("a ") || $0.hasPrefix("b ") }
        XCTAssertEqual(lanes.count, 2, timeline.standardOutput)
        XCTAssertTrue(timeline.standardOutput.contains("  waiting "), "waits are drawn: \(timeline.standardOutput)")
        let svg = work + "/minute.svg"
        let drawn = try locktop(["report", "--svg", svg, journal])
        XCTAssertEqual(drawn.status, 0, drawn.standardError)
        try TestSupport.checkRendersToPNG(svg, width: 1000, file: #filePath, line: #line)

        let session = try TmuxSession(
            command: [TestSupport.executable("locktop"), "replay", journal, "--speed", "1"], width: 120, height: 30,
            environment: ["XDG_STATE_HOME": places.state])
        XCTAssertTrue(session.waitForScreen { $0.contains("replay ") && $0.contains(" 1×") }, session.screen)
        func clock(_ screen: String) -> String? {
            screen.range(of: #"replay \d\d:\d\d:\d\d\.\d\d\d"#, options: .regularExpression).map {
                String(screen[$0])
            }
        }
        session.send("Space")
        XCTAssertTrue(session.waitForScreen { $0.contains(" paused]") }, session.screen)
        let paused = clock(session.screen)
        session.send(".")
        XCTAssertTrue(session.waitForScreen { clock($0) != paused }, "a step moves the clock: \(session.screen)")
        let stepped = clock(session.screen)
        session.send("]")
        XCTAssertTrue(
            session.waitForScreen { clock($0) != stepped && $0.contains(" a ") && $0.contains(" b ") },
            "a minute on, both keys are there: \(session.screen)")
        session.send("q")
        XCTAssertTrue(session.waitForScreen { _ in session.exitStatus != nil })
        XCTAssertEqual(session.exitStatus, 0)
    }
}
