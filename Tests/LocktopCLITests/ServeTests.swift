import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// `locktop serve` against the real thing: curl, promtool and a Prometheus from Debian's package
/// scraping it every second, over a directory whose holders are real processes.
final class ServeTests: XCTestCase {
    var directory = ""
    var state = ""
    var children: [TestSupport.Child] = []

    override func setUp() {
        // A records directory whose path needs escaping as a label value.
        directory = TestSupport.temporaryDirectory(for: self) + "/we\"ird\\dir"
        XCTAssertEqual(mkdir(directory, 0o755), 0)
        state = TestSupport.temporaryDirectory(for: self)
    }

    override func tearDown() {
        for child in children {
            child.signal(SIGKILL)
            _ = child.wait(timeout: 10)
        }
    }

    /// A tool from Debian's `prometheus` package; the test is skipped without it, except in CI.
    func tool(_ name: String) throws -> String {
        let path = "/usr/bin/\(name)"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            if TestSupport.isCI { XCTFail("\(name) is missing: scripts/setup.sh installs prometheus") }
            throw XCTSkip("\(name) is not installed (apt-get install prometheus)")
        }
        return path
    }

    func start(_ executable: String, _ arguments: [String]) throws -> TestSupport.Child {
        let child = try TestSupport.start(executable, arguments, environment: ["XDG_STATE_HOME": state])
        children.append(child)
        return child
    }

    /// A lock held by a real process that the lock names by host, pid and start time.
    func holdLock(_ name: String) throws -> TestSupport.Child {
        let holder = try start("/bin/sleep", ["600"])
        let pid = holder.process.processIdentifier
        var content = LockFileContent(
            holder: UUID().uuidString.lowercased(), expiration: nil, hostName: ProcessIdentity.current.hostName,
            processID: pid, processStartTicks: ProcessIdentity.startTicks(of: pid))
        content.acquiredAt = Date()
        _ = try LockFiles.create(path: "\(directory)/\(name)", bytes: content.encoded())
        return holder
    }

    func get(_ url: String) throws -> String {
        try TestSupport.run("/usr/bin/curl", ["-s", "--max-time", "5", url]).standardOutput
    }

    /// Starts `locktop serve` on a free port and waits until it answers; returns its base URL.
    func startServe() throws -> String {
        let port = RedisServer.freePort()
        let serve = try start(
            TestSupport.executable("locktop"),
            ["serve", "--dir", directory, "--listen", "127.0.0.1:\(port)", "--no-fanotify"])
        let url = "http://127.0.0.1:\(port)"
        XCTAssertTrue(
            TestSupport.eventually { (try? self.get("\(url)/healthz")) == "ok\n" },
            "serve answers: \(serve.standardError)")
        return url
    }

    /// The `source` label of the test's directory, escaped as the exposition writes it.
    var sourceLabel: String {
        let escaped = directory.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
            of: "\"", with: "\\\"")
        return "source=\"\(escaped)\""
    }

    /// The value of the sample of `metric` with `labels` (its label text, as exposed) in `exposition`.
    func sample(_ exposition: String, _ metric: String, _ labels: String) -> String? {
        exposition.split(separator: "\n").first { $0.hasPrefix("\(metric){\(labels)} ") }
            .map { String($0.split(separator: " ").last!) }
    }

    func testMetricsGiveEachVerdictOnceWithEscapedLabelsAndPromtoolAcceptsThem() throws {
        let promtool = try tool("promtool")
        _ = try LockFiles.create(
            path: "\(directory)/old.lock",
            bytes: LockFileContent(holder: "a\"b\\c\nd\u{1B}]2;x\u{07}", expiration: Date(timeIntervalSince1970: 0))
                .encoded())
        _ = try holdLock("live.lock")
        let dead = try holdLock("dead.lock")
        dead.signal(SIGKILL)
        _ = dead.wait(timeout: 10)
        let url = try startServe()
        let source = sourceLabel
        var exposition = ""
        XCTAssertTrue(
            try TestSupport.eventually {
                exposition = try self.get("\(url)/metrics")
                return self.sample(exposition, "locktop_locks", "\(source),state=\"stale\"") == "1.0"
            }, exposition)
        XCTAssertEqual(sample(exposition, "locktop_locks", "\(source),state=\"expired\""), "1.0")
        XCTAssertEqual(sample(exposition, "locktop_locks", "\(source),state=\"held\""), "1.0", exposition)
        XCTAssertEqual(sample(exposition, "locktop_locks", "\(source),state=\"held_unknown\""), "0.0")
        XCTAssertEqual(sample(exposition, "locktop_source_up", source), "1.0")
        XCTAssertEqual(sample(exposition, "locktop_build_info", "version=\"0.3.0\""), "1.0")
        let checked = try TestSupport.run(
            "/bin/sh", ["-c", "curl -s \"$1\" | \"$2\" check metrics", "sh", "\(url)/metrics", promtool])
        XCTAssertEqual(checked.status, 0, checked.standardOutput + checked.standardError)
        // Read-only: nothing but GET answers.
        let post = try TestSupport.run(
            "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "\(url)/metrics"])
        XCTAssertEqual(post.standardOutput, "405")
    }

    func testABearerTokenGuardsTheMetricsAndAHandOffAndAHoldAreMeasured() throws {
        let tokenFile = "\(state)/token"
        try "s3cret-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let port = RedisServer.freePort()
        let serve = try start(
            TestSupport.executable("locktop"),
            [
                "serve", "--dir", directory, "--listen", "127.0.0.1:\(port)", "--no-fanotify", "--bearer-token-file",
                tokenFile,
            ])
        let url = "http://127.0.0.1:\(port)"
        XCTAssertTrue(
            TestSupport.eventually { (try? self.get("\(url)/healthz")) == "ok\n" },
            "serve answers: \(serve.standardError)")
        func status(_ arguments: [String]) throws -> String {
            try TestSupport.run(
                "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}"] + arguments + ["\(url)/metrics"]
            ).standardOutput
        }
        XCTAssertEqual(try status([]), "401")
        XCTAssertEqual(try status(["-H", "Authorization: Bearer wrong-token1"]), "401")
        XCTAssertEqual(try status(["-H", "Authorization: Bearer s3cret-token"]), "200")
        // A lock held for a moment, then taken again: one hold and one hand-off.
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        XCTAssertTrue(try store.acquireLock(key: "orders", holder: "a", acquireTimeout: 0))
        usleep(300_000)
        try store.releaseLock(key: "orders", holder: "a")
        usleep(100_000)
        XCTAssertTrue(try store.acquireLock(key: "orders", holder: "b", acquireTimeout: 0))
        var exposition = ""
        XCTAssertTrue(
            try TestSupport.eventually {
                exposition = try TestSupport.run(
                    "/usr/bin/curl", ["-s", "-H", "Authorization: Bearer s3cret-token", "\(url)/metrics"]
                ).standardOutput
                return exposition.contains("locktop_handoff_duration_seconds_count{")
                    && self.sample(
                        exposition, "locktop_acquisitions_total", self.sourceLabel) == "2"
            }, exposition)
        XCTAssertEqual(sample(exposition, "locktop_hold_duration_seconds_count", sourceLabel), "1", exposition)
        XCTAssertEqual(sample(exposition, "locktop_hold_duration_seconds_bucket", "\(sourceLabel),le=\"0.1\""), "0")
        XCTAssertEqual(sample(exposition, "locktop_hold_duration_seconds_bucket", "\(sourceLabel),le=\"1.0\""), "1")
        XCTAssertEqual(sample(exposition, "locktop_handoff_duration_seconds_count", sourceLabel), "1", exposition)
        XCTAssertEqual(sample(exposition, "locktop_releases_total", sourceLabel), "1")
    }

    func testKeyLabelsGiveEachLockItsSeriesUpToTheCapAndFoldTheRestIntoOther() throws {
        let promtool = try tool("promtool")
        let expiry = Date(timeIntervalSince1970: 2_000_000_000)
        for name in ["a", "b", "c", "we\"ird\\key"] {
            _ = try LockFiles.create(
                path: "\(directory)/\(name).lock",
                bytes: LockFileContent(holder: "h-\(name)", expiration: name == "a" ? expiry : nil).encoded())
        }
        let port = RedisServer.freePort()
        _ = try start(
            TestSupport.executable("locktop"),
            [
                "serve", "--dir", directory, "--listen", "127.0.0.1:\(port)", "--no-fanotify", "--key-labels",
                "--max-keys", "2",
            ])
        let url = "http://127.0.0.1:\(port)"
        var exposition = ""
        XCTAssertTrue(
            TestSupport.eventually {
                exposition = (try? self.get("\(url)/metrics")) ?? ""
                return exposition.contains("locktop_lock_state{")
            }, exposition)
        let stateLines = exposition.split(separator: "\n").filter { $0.hasPrefix("locktop_lock_state{") }
        let own = stateLines.filter { !$0.contains("key=\"__other__\"") }
        XCTAssertEqual(own.count, 2, "two locks get series of their own: \(stateLines)")
        XCTAssertTrue(own.allSatisfy { $0.hasSuffix(" 1.0") }, "\(own)")
        func total(_ lines: [Substring]) -> Double {
            lines.compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
        }
        XCTAssertEqual(
            total(stateLines.filter { $0.contains("key=\"__other__\"") }), 2,
            "the other two are folded, counted by state")
        // The lock whose name needs escaping is a lock like any other: unreadable, on this surface too.
        XCTAssertEqual(sample(exposition, "locktop_locks", "\(sourceLabel),state=\"unreadable\""), "1.0", exposition)
        // The lock with an expiry has its timestamp, if it is one of the two.
        if own.contains(where: { $0.contains("key=\"a\"") }) {
            XCTAssertEqual(
                sample(exposition, "locktop_lock_expiry_timestamp_seconds", "\(sourceLabel),key=\"a\""), "2000000000.0")
        }
        let checked = try TestSupport.run(
            "/bin/sh", ["-c", "curl -s \"$1\" | \"$2\" check metrics", "sh", "\(url)/metrics", promtool])
        XCTAssertEqual(checked.status, 0, checked.standardOutput + checked.standardError)
        // A lock with series goes: its series go, and the count of locks stays whole.
        let ownKey = try XCTUnwrap(own.lazy.compactMap { $0.firstMatch(of: /key="([a-c])"/)?.output.1 }.first)
        try FileManager.default.removeItem(atPath: "\(directory)/\(ownKey).lock")
        XCTAssertTrue(
            TestSupport.eventually {
                exposition = (try? self.get("\(url)/metrics")) ?? ""
                return !exposition.contains("key=\"\(ownKey)\"")
            }, exposition)
        XCTAssertEqual(
            total(exposition.split(separator: "\n").filter { $0.hasPrefix("locktop_lock_state{") }), 3, exposition)
    }

    func testEventsStreamAsServerSentEventsToEveryClient() throws {
        let url = try startServe()
        let clients = try (0..<2).map { _ in try start("/usr/bin/curl", ["-s", "-N", "\(url)/api/v1/events"]) }
        for client in clients {
            XCTAssertTrue(client.waitForOutput(containing: ": locktop events", timeout: 10), client.standardOutput)
        }
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        XCTAssertTrue(try store.acquireLock(key: "orders", holder: "worker-1", acquireTimeout: 0))
        for client in clients {
            XCTAssertTrue(client.waitForOutput(containing: "\n\n", timeout: 10))
            XCTAssertTrue(
                TestSupport.eventually {
                    client.standardOutput.split(separator: "\n").contains { line in
                        guard line.hasPrefix("data: "),
                            let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))
                                as? [String: Any]
                        else { return false }
                        return object["type"] as? String == "acquired" && object["key"] as? String == "orders"
                            && object["holder"] as? String == "worker-1"
                    }
                }, client.standardOutput)
        }
        // A client that leaves is forgotten; the others still get events.
        clients[0].signal(SIGKILL)
        _ = clients[0].wait(timeout: 10)
        try store.releaseLock(key: "orders", holder: "worker-1")
        XCTAssertTrue(
            TestSupport.eventually { clients[1].standardOutput.contains(#""type": "released""#) },
            clients[1].standardOutput)
    }

    func testTheAlertRulesPassTheirTestsAndNameOnlyServedMetrics() throws {
        let promtool = try tool("promtool")
        let contrib = "\(TestSupport.packageRoot)/contrib/prometheus"
        let checked = try TestSupport.run(promtool, ["check", "rules", "\(contrib)/locktop.rules.yml"])
        XCTAssertEqual(checked.status, 0, checked.standardOutput + checked.standardError)
        let tested = try TestSupport.run(
            "/bin/sh", ["-c", "cd \"$1\" && \"$2\" test rules locktop.rules.test.yml", "sh", contrib, promtool])
        XCTAssertEqual(tested.status, 0, tested.standardOutput + tested.standardError)
        let rules = try String(contentsOfFile: "\(contrib)/locktop.rules.yml", encoding: .utf8)
        let named = Set(rules.matches(of: /locktop_[a-z_]+/).map { String($0.output) })
        XCTAssertFalse(named.isEmpty)
        XCTAssertEqual(named.subtracting(try servedMetrics()), [], "every metric a rule names is served")
    }

    func testEveryGrafanaPanelQueriesServedMetrics() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(TestSupport.packageRoot)/contrib/grafana/locktop.json"))
        let board = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try XCTUnwrap(board["panels"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(panels.count, 6)
        XCTAssertEqual(Set(panels.compactMap { $0["id"] as? Int }).count, panels.count, "panel ids are unique")
        let served = try servedMetrics()
        let templating = (board["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        let queries =
            panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
            + templating.compactMap { $0["definition"] as? String }
        XCTAssertEqual(queries.count, panels.map { ($0["targets"] as? [Any])?.count ?? 0 }.reduce(0, +) + 1)
        for (panel, title) in panels.map({ ($0, $0["title"] as? String ?? "?") }) {
            XCTAssertFalse((panel["targets"] as? [Any] ?? []).isEmpty, "\(title) has a query")
        }
        for query in queries {
            let names = query.matches(of: /locktop_[a-z_]+/).map { String($0.output) }
            XCTAssertFalse(names.isEmpty, query)
            for name in names {
                // A histogram's series are its name with _bucket, _count or _sum.
                let base = name.replacing(/_(bucket|count|sum)$/, with: "")
                XCTAssertTrue(served.contains(base), "\(name) in \(query) is not served")
            }
        }
    }

    /// The metric names a real `serve` exposes (its `# TYPE` lines).
    func servedMetrics() throws -> Set<String> {
        let url = try startServe()
        return Set(
            try get("\(url)/metrics").split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }
                .map { String($0.split(separator: " ")[2]) })
    }

    func testTheSystemdUnitIsHardenedAndSystemdAcceptsIt() throws {
        let analyze = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyze) else {
            if TestSupport.isCI { XCTFail("systemd-analyze is missing") }
            throw XCTSkip("systemd-analyze is not installed")
        }
        let unit = try String(
            contentsOfFile: "\(TestSupport.packageRoot)/contrib/systemd/locktop-serve.service", encoding: .utf8)
        let settings = Set(unit.split(separator: "\n").map(String.init))
        for setting in [
            "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/locktop",
            "CapabilityBoundingSet=CAP_SYS_ADMIN CAP_DAC_READ_SEARCH CAP_SYS_PTRACE",
            "ExecStart=/usr/local/bin/locktop serve --listen 127.0.0.1:9464",
        ] {
            XCTAssertTrue(settings.contains(setting), setting)
        }
        // verify checks that the binary exists: the unit is checked with this build's in its place.
        let copy = "\(TestSupport.temporaryDirectory(for: self))/locktop-serve.service"
        try unit.replacingOccurrences(of: "/usr/local/bin/locktop", with: TestSupport.executable("locktop"))
            .write(toFile: copy, atomically: true, encoding: .utf8)
        let verified = try TestSupport.run(analyze, ["verify", copy])
        XCTAssertEqual(verified.status, 0, verified.standardOutput + verified.standardError)
        XCTAssertEqual(verified.standardError, "", "no warnings")
    }

    func testPrometheusScrapingServeSeesAKilledHolderStaleAndCountsABreak() throws {
        let prometheus = try tool("prometheus")
        let holder = try holdLock("orders.lock")
        let url = try startServe()
        let scrapeTarget = url.replacingOccurrences(of: "http://", with: "")
        let home = TestSupport.temporaryDirectory(for: self)
        let config = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: locktop
                static_configs:
                  - targets: ['\(scrapeTarget)']
            """
        try config.write(toFile: "\(home)/prometheus.yml", atomically: true, encoding: .utf8)
        let port = RedisServer.freePort()
        let server = try start(
            prometheus,
            [
                "--config.file=\(home)/prometheus.yml", "--storage.tsdb.path=\(home)/data",
                "--web.listen-address=127.0.0.1:\(port)",
            ])
        let api = "http://127.0.0.1:\(port)"
        /// The value Prometheus has now for `query`, nil while it has none.
        func value(_ query: String) -> String? {
            guard
                let text = try? TestSupport.run(
                    "/usr/bin/curl",
                    ["-s", "--max-time", "5", "-G", "\(api)/api/v1/query", "--data-urlencode", "query=\(query)"]
                ).standardOutput,
                let document = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                let data = document["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
                let first = result.first, let sample = first["value"] as? [Any]
            else { return nil }
            return sample.last as? String
        }
        XCTAssertTrue(
            TestSupport.eventually(timeout: 30) { value(#"locktop_locks{state="held"}"#) == "1" },
            "Prometheus scrapes serve: \(server.standardError.suffix(2000))")
        holder.signal(SIGKILL)
        _ = holder.wait(timeout: 10)
        let killed = Date()
        XCTAssertTrue(
            TestSupport.eventually(timeout: 15) { value(#"locktop_locks{state="stale"}"#) == "1" },
            "the killed holder's lock is stale in Prometheus")
        XCTAssertLessThan(Date().timeIntervalSince(killed), 6, "within a few scrapes")
        let broke = try TestSupport.run(
            TestSupport.executable("locktop"), ["break", "--dir", directory, "--stale"],
            environment: ["XDG_STATE_HOME": state])
        XCTAssertEqual(broke.status, 0, broke.standardError)
        XCTAssertTrue(
            TestSupport.eventually(timeout: 15) { value(#"locktop_breaks_total{reason="stale"}"#) == "1" },
            "the break is counted, by its verdict")
        XCTAssertEqual(value(#"locktop_locks{state="stale"}"#), "0")
    }
}
