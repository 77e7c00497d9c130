import Foundation
import LocktopTestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// Holders on other hosts, judged from host A. Each host is a namespace set (``SimulatedHost``)
/// with its own host name and `/proc`; all see one locks directory. Real Prefect 3.9.1 workers hold
/// the locks in host B; host A sees only what an agent, a heartbeat or nothing tells it.
final class CrossHostTests: XCTestCase {
    var python = ""
    var directory = ""
    var home = ""
    var hostA: SimulatedHost!
    var hostB: SimulatedHost!
    /// The agent's interval, and what the issue allows from a death to `stale`: 3 intervals + 1 s
    /// (plus `list`'s own run, a fraction of a second).
    let interval = 1.0
    var bound: TimeInterval { 3 * interval + 1 + 0.5 }

    override func setUpWithError() throws {
        try PrefectWorkers.requireRoot()
        python = try TestSupport.prefectPython("3.9.1")
        let places = PrefectWorkers.Places(for: self)
        (directory, home) = (places.directory, places.home)
        hostA = try SimulatedHost("host-a", python: python)
        hostB = try SimulatedHost("worker-b", python: python)
        let (a, b) = (hostA!, hostB!)
        addTeardownBlock {
            a.kill()
            b.kill()
        }
    }

    /// A Prefect worker in `host` (host B unless told) holding `key` until killed: the helper's
    /// (heartbeat) or plain Prefect's.
    func holder(_ key: String, helper: Bool, in host: SimulatedHost? = nil) throws -> (TestSupport.Child, Int32) {
        let child = try hold(
            [python, TestSupport.prefectScript("prefect_lock.py"), "hold", directory, key, UUID().uuidString],
            helper: helper, in: host ?? hostB)
        return (child, try XCTUnwrap(SimulatedHost.innerProcessID(of: child)))
    }

    /// Starts `command` in `host` (with locktop's helper or plain Prefect's lock manager), stopped
    /// when the test ends, once it prints "acquired".
    func hold(_ command: [String], helper: Bool, in host: SimulatedHost) throws -> TestSupport.Child {
        let child = try host.start(
            command,
            environment: [
                "LOCKTOP_HELPER": helper ? "1" : "0", "LOCKTOP_HEARTBEAT_INTERVAL": String(interval),
                "PREFECT_HOME": home,
            ], input: true)
        addTeardownBlock { SimulatedHost.stop(child) }
        XCTAssertTrue(child.waitForOutput(containing: "acquired", timeout: 60), child.standardError)
        return child
    }

    /// `key`'s lock in the `list --json` of `host` (host A unless told), of the directory or of
    /// `--redis URL` in `extra`, as root or nobody.
    func lockAsSeen(
        _ key: String, asNobody: Bool = false, adding extra: [String] = [], from host: SimulatedHost? = nil
    ) throws -> [String: Any]? {
        let state = TestSupport.temporaryDirectory(for: self)
        chmod(state, 0o777)
        let source = extra.contains("--redis") ? [] : ["--dir", directory]
        let list = [TestSupport.executable("locktop"), "list", "--json"] + source + extra
        let outcome = try (host ?? hostA).run(
            (asNobody ? ["/usr/bin/setpriv"] + PrefectWorkers.asNobody + ["--"] : []) + list,
            environment: ["XDG_STATE_HOME": state])
        let document = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any]
        let locks = document?["locks"] as? [[String: Any]] ?? []
        return locks.first { $0["key"] as? String == key }
    }

    /// Waits until host A's verdict on `key` is `verdict`; returns how long that took, nil if it never came.
    func waitForVerdict(
        _ verdict: String, of key: String, asNobody: Bool = false, adding extra: [String] = [],
        from host: SimulatedHost? = nil, timeout: TimeInterval = 20
    ) throws -> (seconds: TimeInterval, lock: [String: Any])? {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if let lock = try lockAsSeen(key, asNobody: asNobody, adding: extra, from: host),
                lock["verdict"] as? String == verdict
            {
                return (Date().timeIntervalSince(start), lock)
            }
            usleep(100_000)
        }
        return nil
    }

    /// Each host's agent state directory, kept across the agent's restarts, as a real host's is.
    var agentStates: [String: String] = [:]

    /// Starts an agent in `host` (host B unless told), as root, with `extra` arguments, stopped
    /// when the test ends.
    func startAgent(in host: SimulatedHost? = nil, adding extra: [String] = []) throws -> TestSupport.Child {
        let host = host ?? hostB!
        let state = agentStates[host.name] ?? TestSupport.temporaryDirectory(for: self)
        agentStates[host.name] = state
        let agent = try host.start(
            [TestSupport.executable("locktop"), "agent", "--dir", directory, "--interval", String(interval)] + extra,
            environment: ["XDG_STATE_HOME": state])
        addTeardownBlock { SimulatedHost.stop(agent) }
        return agent
    }

    func testAnAgentOnTheHoldersHostProvesItAliveThenDeadAndItsSilenceProvesNothing() throws {
        let agent = try startAgent()
        let (_, outer) = try holder("flow-a", helper: false)
        let innerPID = try XCTUnwrap(SimulatedHost.namespacedProcessID(of: outer))
        let held = try XCTUnwrap(try waitForVerdict("held", of: "flow-a"), "never a green held from B's agent")
        XCTAssertEqual(held.lock["judged_by"] as? String, "agent")
        XCTAssertEqual(held.lock["host"] as? String, "worker-b")
        XCTAssertTrue((held.lock["reason"] as? String ?? "").contains("pid \(innerPID)"), "\(held.lock)")
        let evidence = held.lock["evidence"] as? [[String: Any]] ?? []
        XCTAssertTrue(evidence.contains { $0["source"] as? String == "agent" && $0["verdict"] as? String == "alive" })

        kill(outer, SIGKILL)
        let stale = try XCTUnwrap(try waitForVerdict("stale", of: "flow-a"), "the dead holder never turned stale")
        XCTAssertLessThan(stale.seconds, bound, "stale within 3 intervals + 1 s")
        let reason = stale.lock["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("pid \(innerPID)") && reason.contains("worker-b's agent"), reason)
        print("cross-host: agent, holder death to stale on host A in \(stale.seconds)s")

        // A second, live holder; then the agent stops: held?, with the silence; it comes back with the agent.
        _ = try holder("flow-b", helper: false)
        XCTAssertNotNil(try waitForVerdict("held", of: "flow-b"))
        SimulatedHost.stop(agent)
        let silent = try XCTUnwrap(try waitForVerdict("held_unknown", of: "flow-b"), "a silent agent left it held")
        XCTAssertTrue(
            (silent.lock["reason"] as? String ?? "").contains("agent on worker-b silent since"), "\(silent.lock)")
        XCTAssertEqual(try lockAsSeen("flow-a")?["verdict"] as? String, "held_unknown", "silence proves no death")
        _ = try startAgent()
        XCTAssertNotNil(try waitForVerdict("held", of: "flow-b"), "the verdict came back with the agent")
    }

    func testLiveHoldersOnHostsBAndCAreHeldWithTheirHostsInListAndInTheDashboard() throws {
        let hostC = try SimulatedHost("worker-c", python: python)
        addTeardownBlock { hostC.kill() }
        _ = try startAgent()
        _ = try startAgent(in: hostC)
        let (_, holderB) = try holder("flow-b", helper: false)
        let (_, holderC) = try holder("flow-c", helper: false, in: hostC)
        let (_, helperC) = try holder("flow-c-helper", helper: true, in: hostC)
        let pids = try [holderB, holderC, helperC].map { try XCTUnwrap(SimulatedHost.namespacedProcessID(of: $0)) }
        for (key, host) in [("flow-b", "worker-b"), ("flow-c", "worker-c"), ("flow-c-helper", "worker-c")] {
            let held = try XCTUnwrap(try waitForVerdict("held", of: key), "\(key) on \(host) never a green held")
            XCTAssertEqual(held.lock["host"] as? String, host, "\(held.lock)")
        }

        // host A's dashboard, in a terminal: a HOST column, and each holder with its host.
        let state = TestSupport.temporaryDirectory(for: self)
        let session = try TmuxSession(
            command: hostA.command([TestSupport.executable("locktop"), "--dir", directory]), width: 220,
            environment: ["XDG_STATE_HOME": state])
        func row(_ screen: String, _ key: String) -> String? {
            screen.split(separator: "\n").map(String.init).first { $0.hasPrefix(" \(key) ") }
        }
        func shows(_ screen: String, _ key: String, _ label: String, pid: Int32, host: String) -> Bool {
            guard let row = row(screen, key) else { return false }
            // With a HOST column, the host is there rather than after the holder.
            return row.contains(" \(label) ") && row.contains(" \(pid) prefect_lock.py") && row.contains(" \(host) ")
        }
        XCTAssertTrue(
            session.waitForScreen(timeout: 20) { screen in
                shows(screen, "flow-b", "held", pid: pids[0], host: "worker-b")
                    && shows(screen, "flow-c", "held", pid: pids[1], host: "worker-c")
                    && shows(screen, "flow-c-helper", "held", pid: pids[2], host: "worker-c")
            }, session.screen)
        XCTAssertTrue(session.screen.contains(" HOST "), "holders span hosts: \(session.screen)")
        XCTAssertFalse(session.screen.contains("held?"), "every holder is judged: \(session.screen)")

        // C's plain holder is killed: stale in list and on the dashboard, by C's agent; B's stays held.
        kill(holderC, SIGKILL)
        let stale = try XCTUnwrap(try waitForVerdict("stale", of: "flow-c"), "C's dead holder never turned stale")
        XCTAssertLessThan(stale.seconds, bound, "stale within 3 intervals + 1 s")
        XCTAssertTrue((stale.lock["reason"] as? String ?? "").contains("worker-c's agent"), "\(stale.lock)")
        XCTAssertTrue(
            session.waitForScreen(timeout: bound) { row($0, "flow-c")?.contains("STALE") == true }, session.screen)
        XCTAssertEqual(try lockAsSeen("flow-b")?["verdict"] as? String, "held")
        XCTAssertTrue(row(session.screen, "flow-b")?.contains(" held ") == true, session.screen)
        session.send("q")
        XCTAssertEqual(session.waitForExit(), 0, session.screen)
    }

    func testAnUnprivilegedReaderOnTheAgentsOwnHostSeesWhatRootSees() throws {
        // In host B: root's agent, a plain Prefect holder (a bare uuid4, which names no pid), and a
        // reader as nobody, who has no fanotify: only the agent's report can judge the holder.
        _ = try startAgent()
        let (_, outer) = try holder("flow-local", helper: false)
        let innerPID = try XCTUnwrap(SimulatedHost.namespacedProcessID(of: outer))
        let held = try XCTUnwrap(
            try waitForVerdict("held", of: "flow-local", asNobody: true, from: hostB), "nobody never saw it held")
        XCTAssertEqual(held.lock["judged_by"] as? String, "agent", "\(held.lock)")
        XCTAssertTrue((held.lock["reason"] as? String ?? "").contains("pid \(innerPID)"), "\(held.lock)")
        kill(outer, SIGKILL)
        let stale = try XCTUnwrap(
            try waitForVerdict("stale", of: "flow-local", asNobody: true, from: hostB), "never stale for nobody")
        XCTAssertLessThan(stale.seconds, bound, "stale within 3 intervals + 1 s")
        print("cross-host: agent, holder death to stale for nobody on the agent's host in \(stale.seconds)s")
    }

    /// The README's ACLs for agents publishing to Redis, and for readers of their reports.
    static let publisherACL =
        "on >a-pass ~locktop:agent* +eval +evalsha +set +zadd +zremrangebyscore +time +getrange +ping +hello +client|setname"
    static let reportReaderACL = "on >r-pass %R~locktop:* +time +zrevrange +getrange +ping +hello +client|setname"

    func testAnAgentPublishingToRedisProvesItAliveThenDeadAndItsSilenceProvesNothing() throws {
        let server = try RedisServer(for: self)
        for (user, acl) in [("agent", Self.publisherACL), ("reader", Self.reportReaderACL)] {
            let made = try TestSupport.run(
                "/usr/bin/redis-cli",
                ["-p", String(server.port), "ACL", "SETUSER", user] + acl.split(separator: " ").map(String.init))
            XCTAssertEqual(made.standardOutput, "OK\n", made.standardError)
        }
        let publish = ["--publish", server.url(user: "agent", password: "a-pass")]
        let reports = ["--agent-reports", server.url(user: "reader", password: "r-pass")]
        // The folder a file agent would write is not there: the report goes through Redis alone.
        let agent = try startAgent(adding: publish)
        let (_, outer) = try holder("flow-r", helper: false)
        let innerPID = try XCTUnwrap(SimulatedHost.namespacedProcessID(of: outer))
        let held = try XCTUnwrap(
            try waitForVerdict("held", of: "flow-r", asNobody: true, adding: reports),
            "never held: \(agent.standardError)")
        XCTAssertEqual(held.lock["judged_by"] as? String, "agent", "\(held.lock)")
        XCTAssertEqual(held.lock["host"] as? String, "worker-b")
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: "\(directory)/.locktop"), "nothing written in the directory")
        XCTAssertEqual(try lockAsSeen("flow-r")?["verdict"] as? String, "held_unknown", "without the reports, held?")

        kill(outer, SIGKILL)
        let stale = try XCTUnwrap(
            try waitForVerdict("stale", of: "flow-r", asNobody: true, adding: reports), "never stale")
        XCTAssertLessThan(stale.seconds, bound, "stale within 3 intervals + 1 s")
        let reason = stale.lock["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("pid \(innerPID)") && reason.contains("worker-b's agent"), reason)
        print("cross-host: agent through redis, holder death to stale on host A in \(stale.seconds)s")

        // A live holder; the agent stops: its report expires, and the verdict is held?, never stale.
        _ = try holder("flow-r2", helper: false)
        XCTAssertNotNil(try waitForVerdict("held", of: "flow-r2", adding: reports))
        SimulatedHost.stop(agent)
        XCTAssertNotNil(
            try waitForVerdict("held_unknown", of: "flow-r2", adding: reports), "a silent agent left it held")
        // A one-shot list never saw the report that expired, but the index still dates it.
        let silent = try hostA.run(
            [TestSupport.executable("locktop"), "list", "--dir", directory, "-n"] + reports,
            environment: ["XDG_STATE_HOME": TestSupport.temporaryDirectory(for: self)])
        XCTAssertTrue(
            silent.standardError.contains("locktop: warning: agent on worker-b silent since "), silent.standardError)
        XCTAssertEqual(try lockAsSeen("flow-r", adding: reports)?["verdict"] as? String, "held_unknown")
        _ = try startAgent(adding: publish)
        XCTAssertNotNil(
            try waitForVerdict("held", of: "flow-r2", adding: reports), "the verdict came back with the agent")

        // A server that does not answer: a warning, and no stall.
        let started = Date()
        let unreachable = try lockAsSeen("flow-r2", adding: ["--agent-reports", "redis://127.0.0.1:9"])
        XCTAssertEqual(unreachable?["verdict"] as? String, "held_unknown")
        XCTAssertLessThan(Date().timeIntervalSince(started), 8, "an unreachable Redis costs a bounded wait")
    }

    func testTheHelpersHeartbeatProvesAWholeHostDeadWithNoRootAnywhere() throws {
        // The worker runs as root only because the test venv lives under /root; the reader is nobody,
        // and no agent runs: the heartbeat is the only evidence.
        let (_, outer) = try holder("flow-h", helper: true)
        let held = try XCTUnwrap(try waitForVerdict("held", of: "flow-h", asNobody: true))
        XCTAssertEqual(held.lock["judged_by"] as? String, "heartbeat", "\(held.lock)")
        XCTAssertEqual(held.lock["host"] as? String, "worker-b")
        let innerPID = try XCTUnwrap(SimulatedHost.namespacedProcessID(of: outer))
        hostB.kill()
        let stale = try XCTUnwrap(try waitForVerdict("stale", of: "flow-h", asNobody: true), "never stale")
        XCTAssertLessThan(stale.seconds, bound, "stale within 3 intervals + 1 s")
        let reason = stale.lock["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("heartbeat of pid \(innerPID) on worker-b expired"), reason)
        print("cross-host: heartbeat, host death to stale on host A in \(stale.seconds)s")
    }

    func testWithNoEvidenceAHolderOnAnotherHostIsNeverStaleNorAGreenHeld() throws {
        let (_, outer) = try holder("flow-n", helper: false)
        let seen = try XCTUnwrap(try waitForVerdict("held_unknown", of: "flow-n"))
        XCTAssertEqual(seen.lock["judged_by"] as? String, "none")
        kill(outer, SIGKILL)
        let deadline = Date().addingTimeInterval(bound + 1)
        while Date() < deadline {
            XCTAssertEqual(try lockAsSeen("flow-n")?["verdict"] as? String, "held_unknown")
            usleep(500_000)
        }
    }

    /// A prefect-redis worker in host B holding `key` on `server` until killed: through the helper
    /// (`LocktopRedisLockManager`: companion and heartbeat keys) or plain prefect-redis.
    func redisHolder(_ key: String, helper: Bool, server: RedisServer) throws -> Int32 {
        let child = try hold(
            [
                python, TestSupport.prefectScript("prefect_redis_lock.py"), "acquire", server.url(), key,
                UUID().uuidString.lowercased(), "none", "30",
            ], helper: helper, in: hostB)
        return try XCTUnwrap(SimulatedHost.innerProcessID(of: child))
    }

    func testTheRedisHelpersHeartbeatProvesHoldersOnAnotherHostDeadByRedisClockWithNoRootAnywhere() throws {
        let server = try RedisServer(for: self)
        let redis = ["--redis", server.url()]
        let killed = try redisHolder("redis-killed", helper: true, server: server)
        _ = try redisHolder("redis-host", helper: true, server: server)
        let plain = try redisHolder("redis-plain", helper: false, server: server)
        let innerPID = try XCTUnwrap(SimulatedHost.namespacedProcessID(of: killed))
        // A watching reader in host A, as nobody, with keyspace notifications.
        let state = TestSupport.temporaryDirectory(for: self)
        chmod(state, 0o777)
        let events = try hostA.start(
            ["/usr/bin/setpriv"] + PrefectWorkers.asNobody + [
                "--", TestSupport.executable("locktop"), "events", "--json", "--enable-notifications",
            ] + redis, environment: ["XDG_STATE_HOME": state])
        addTeardownBlock { SimulatedHost.stop(events) }

        for key in ["redis-killed", "redis-host"] {
            let held = try XCTUnwrap(try waitForVerdict("held", of: key, asNobody: true, adding: redis), key)
            XCTAssertEqual(held.lock["judged_by"] as? String, "heartbeat", "\(held.lock)")
            XCTAssertEqual(held.lock["host"] as? String, "worker-b")
        }
        let unjudged = try XCTUnwrap(
            try waitForVerdict("held_unknown", of: "redis-plain", asNobody: true, adding: redis))
        XCTAssertEqual(unjudged.lock["judged_by"] as? String, "none", "plain prefect-redis: nothing to judge by")

        kill(killed, SIGKILL)
        kill(plain, SIGKILL)
        let stale = try XCTUnwrap(
            try waitForVerdict("stale", of: "redis-killed", asNobody: true, adding: redis), "never stale")
        XCTAssertLessThan(stale.seconds, bound, "stale within 3 intervals + 1 s")
        let reason = stale.lock["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("heartbeat of pid \(innerPID) on worker-b"), reason)
        print("cross-host: redis heartbeat, holder death to stale on host A in \(stale.seconds)s")

        // The whole host goes: the watcher's stale event comes within the bound, by Redis's clock.
        let hostKilled = Date()
        hostB.kill()
        XCTAssertTrue(
            events.waitForOutput(containing: "\"stale\", \"key\": \"redis-host\"", timeout: bound),
            "no stale event within 3 intervals + 1 s: \(events.standardOutput.suffix(2000))")
        print(
            "cross-host: redis heartbeat, host death to events' stale on host A in \(Date().timeIntervalSince(hostKilled))s"
        )
        XCTAssertTrue(events.standardOutput.contains("expired"), events.standardOutput)
        XCTAssertEqual(
            try lockAsSeen("redis-plain", asNobody: true, adding: redis)?["verdict"] as? String, "held_unknown",
            "a plain prefect-redis lock of a dead holder is never stale: nothing proves it")
        XCTAssertFalse(events.standardOutput.contains("\"stale\", \"key\": \"redis-plain\""))
    }

    func testAPrefectRunThatCrashedStillHoldingItsLockIsStaleByName() throws {
        let server = try PrefectServer(for: self, python: python)
        let run = [python, TestSupport.prefectScript("prefect_api_run.py")]
        let created = try TestSupport.run(
            run[0], [run[1], "create", "crimson-fox"], environment: server.clientEnvironment)
        let runID = created.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertNotNil(UUID(uuidString: runID), created.standardError)
        // The helper's lock as a worker in host B wrote it: from host A only the API can judge it.
        let content: [String: Any] = [
            "holder": UUID().uuidString.lowercased(), "expiration": NSNull(), "host": "worker-b", "pid": 4242,
            "flow_run_id": runID, "flow_run_name": "crimson-fox",
        ]
        try JSONSerialization.data(withJSONObject: content).write(
            to: URL(fileURLWithPath: "\(directory)/flow-p.lock"), options: .atomic)
        let api = ["--prefect-api", server.apiURL]
        let running = try XCTUnwrap(try waitForVerdict("held", of: "flow-p", adding: api), "a RUNNING run is alive")
        XCTAssertEqual(running.lock["judged_by"] as? String, "prefect-api", "\(running.lock)")
        XCTAssertTrue((running.lock["reason"] as? String ?? "").contains("flow run \"crimson-fox\" is RUNNING"))

        let crashed = try TestSupport.run(run[0], [run[1], "crash", runID], environment: server.clientEnvironment)
        XCTAssertEqual(crashed.status, 0, crashed.standardError)
        let stale = try XCTUnwrap(
            try waitForVerdict("stale", of: "flow-p", adding: api), "a CRASHED run's lock is stale")
        print("cross-host: prefect-api, run marked CRASHED to stale on host A in \(stale.seconds)s")
        let reason = stale.lock["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("flow run \"crimson-fox\" CRASHED") && reason.contains("never released"), reason)

        // Without the API, or with one that does not answer: no evidence, and no stall.
        XCTAssertEqual(try lockAsSeen("flow-p")?["verdict"] as? String, "held_unknown")
        let started = Date()
        let unreachable = try lockAsSeen("flow-p", adding: ["--prefect-api", "http://127.0.0.1:9/api"])
        XCTAssertEqual(unreachable?["verdict"] as? String, "held_unknown")
        XCTAssertLessThan(Date().timeIntervalSince(started), 8, "an unreachable API costs a bounded wait")
    }
}
