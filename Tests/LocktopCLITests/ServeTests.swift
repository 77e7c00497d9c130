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

    /// Starts `locktop serve` on a free port, on the test's directory unless `arguments` name
    /// sources, and waits until it answers; returns its base URL. `curl` adds options to the
    /// health check (`--cacert` for HTTPS).
    func startServe(
        _ arguments: [String] = ["--dir", "", "--no-fanotify"], scheme: String = "http", curl: [String] = []
    )
        throws -> String
    {
        let port = RedisServer.freePort()
        let serve = try start(
            TestSupport.executable("locktop"),
            ["serve", "--listen", "127.0.0.1:\(port)"] + arguments.map { $0.isEmpty ? directory : $0 })
        let url = "\(scheme)://127.0.0.1:\(port)"
        XCTAssertTrue(
            TestSupport.eventually {
                (try? TestSupport.run("/usr/bin/curl", ["-s", "--max-time", "5"] + curl + ["\(url)/healthz"]))?
                    .standardOutput == "ok\n"
            }, "serve answers: \(serve.standardError)")
        return url
    }

    /// The JSON object of a document served at `url`.
    func getJSON(_ url: String, _ curl: [String] = []) throws -> [String: Any] {
        let text = try TestSupport.run("/usr/bin/curl", ["-s", "--max-time", "10"] + curl + [url]).standardOutput
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    /// The `source` label of the test's directory, escaped as the exposition writes it.
    var sourceLabel: String {
        let escaped = directory.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
            of: "\"", with: "\\\"")
        return "source=\"\(escaped)\""
    }

    /// The JSON objects of the `data:` lines an event stream's client has printed so far.
    func streamedEvents(_ client: TestSupport.Child) -> [[String: Any]] {
        client.standardOutput.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("data: ") else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
        }
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
        // Asked for OpenMetrics, it answers in it, and the strict parser of prometheus_client reads it.
        let python = try TestSupport.prefectPython("3.9.1")
        let parse = """
            import subprocess, sys
            from prometheus_client.openmetrics.parser import text_string_to_metric_families
            out = subprocess.run(["curl", "-s", "-D", "/dev/stderr", "-H", "Accept: application/openmetrics-text; version=1.0.0", sys.argv[1]], capture_output=True, text=True)
            assert "application/openmetrics-text" in out.stderr, out.stderr
            families = {f.name: f for f in text_string_to_metric_families(out.stdout)}
            stale = [s for s in families["locktop_locks"].samples if s.labels["state"] == "stale"]
            print(families["locktop_acquisitions"].type, stale[0].value, stale[0].labels["source"])
            """
        let parsed = try TestSupport.run(python, ["-c", parse, "\(url)/metrics"])
        XCTAssertEqual(parsed.status, 0, parsed.standardError)
        XCTAssertEqual(parsed.standardOutput, "counter 1.0 \(directory)\n", parsed.standardError)
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
                    self.streamedEvents(client).contains { object in
                        object["type"] as? String == "acquired" && object["key"] as? String == "orders"
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

    func testPrometheusScrapingServeOverHTTPSWithATokenSeesAKilledPrefectHolderStaleAndCountsABreak() throws {
        try PrefectWorkers.requireRoot()
        let prometheus = try tool("prometheus")
        let home = TestSupport.temporaryDirectory(for: self)
        let workers = try PrefectWorkers(directory: directory, home: home)
        let certificates = try TestSupport.makeCertificates(in: home)
        let tokenFile = "\(home)/token"
        try "scrape-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        // serve watches with fanotify, so it knows the process that took a uuid4-held lock.
        let url = try startServe(
            [
                "--dir", "", "--tls-cert", certificates.certificate, "--tls-key", certificates.key,
                "--bearer-token-file", tokenFile,
            ], scheme: "https", curl: ["--cacert", certificates.certificateAuthority])
        let holder = try workers.transaction("orders")
        children.append(holder)
        let config = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: locktop
                scheme: https
                tls_config:
                  ca_file: '\(certificates.certificateAuthority)'
                authorization:
                  credentials_file: '\(tokenFile)'
                static_configs:
                  - targets: ['\(url.replacingOccurrences(of: "https://", with: ""))']
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
            "Prometheus scrapes serve over HTTPS with the token: \(server.standardError.suffix(2000))")
        XCTAssertEqual(value(#"up{job="locktop"}"#), "1")
        PrefectWorkers.kill(holder)
        let killed = Date()
        XCTAssertTrue(
            TestSupport.eventually(timeout: 15) { value(#"locktop_locks{state="stale"}"#) == "1" },
            "the killed Prefect holder's lock is stale in Prometheus")
        XCTAssertLessThan(Date().timeIntervalSince(killed), 4, "within 3 scrapes of 1 s")
        let broke = try TestSupport.run(
            TestSupport.executable("locktop"), ["break", "--dir", directory, "--stale"],
            environment: ["XDG_STATE_HOME": state])
        XCTAssertEqual(broke.status, 0, broke.standardError)
        XCTAssertTrue(
            TestSupport.eventually(timeout: 15) { value(#"locktop_breaks_total{reason="stale"}"#) == "1" },
            "the break is counted, by its verdict")
        XCTAssertEqual(value(#"locktop_locks{state="stale"}"#), "0")
        // Without the CA, or over plain HTTP, nothing is served.
        let plain = try TestSupport.run(
            "/usr/bin/curl",
            [
                "-s", "-o", "/dev/null", "-w", "%{http_code}",
                url.replacingOccurrences(of: "https", with: "http") + "/healthz",
            ])
        XCTAssertEqual(plain.standardOutput, "000", "no plain HTTP on the HTTPS port")
        let untrusted = try TestSupport.run("/usr/bin/curl", ["-s", "\(url)/healthz"])
        XCTAssertNotEqual(untrusted.status, 0, "curl refuses a certificate it does not trust")
    }

    func testAPrefectWaiterThatTakesTheLockIsMeasuredAndAnnounced() throws {
        try PrefectWorkers.requireRoot()
        let workers = try PrefectWorkers(directory: directory, home: TestSupport.temporaryDirectory(for: self))
        // With fanotify, serve sees which processes read the lock file again and again.
        let url = try startServe(["--dir", ""])
        let stream = try start("/usr/bin/curl", ["-s", "-N", "\(url)/api/v1/events"])
        XCTAssertTrue(stream.waitForOutput(containing: ": locktop events", timeout: 10), stream.standardOutput)
        let holder = try workers.transaction("orders")
        children.append(holder)
        let waiter = try workers.waiter("orders")
        children.append(waiter)
        XCTAssertTrue(stream.waitForOutput(containing: #""type": "waiting""#, timeout: 20), stream.standardOutput)
        let waitStarted = Date()
        usleep(1_500_000)
        try holder.closeInput()
        XCTAssertTrue(waiter.waitForOutput(containing: "acquired", timeout: 30), waiter.standardError)
        let waited = Date().timeIntervalSince(waitStarted)
        var event: [String: Any] = [:]
        XCTAssertTrue(
            TestSupport.eventually(timeout: 10) {
                guard let waited = self.streamedEvents(stream).first(where: { $0["type"] as? String == "waited" })
                else { return false }
                event = waited
                return true
            }, stream.standardOutput)
        XCTAssertEqual(event["took_lock"] as? Bool, true, "\(event)")
        XCTAssertEqual(event["pid"] as? Int, Int(waiter.process.processIdentifier), "\(event)")
        let seconds = try XCTUnwrap(event["waited_seconds"] as? Double, "\(event)")
        XCTAssertGreaterThan(seconds, 1.4, "it waited at least while the holder held on")
        XCTAssertLessThan(seconds, waited + 1.5, "from its first read, which came just before the waiting event")
        let exposition = try get("\(url)/metrics")
        XCTAssertEqual(sample(exposition, "locktop_wait_duration_seconds_count", sourceLabel), "1", exposition)
        XCTAssertEqual(
            Double(sample(exposition, "locktop_wait_duration_seconds_sum", sourceLabel) ?? "") ?? 0, seconds,
            accuracy: 0.01)
        XCTAssertEqual(sample(exposition, "locktop_wait_duration_seconds_bucket", "\(sourceLabel),le=\"1.0\""), "0")
        // The waiter's acquisition names it, and its wait, when fanotify's close came before the
        // lock file's content was read (Prefect writes the file after creating it, so not always).
        let acquisitions = streamedEvents(stream).filter { $0["type"] as? String == "acquired" }
        XCTAssertEqual(acquisitions.count, 2, stream.standardOutput)
        if let pid = acquisitions.last?["pid"] as? Int {
            XCTAssertEqual(pid, Int(waiter.process.processIdentifier))
            XCTAssertEqual(acquisitions.last?["waited_seconds"] as? Double ?? 0, seconds, accuracy: 0.01)
        }
    }

    func testTheLocksEndpointGivesListJSONsDocumentWithItsVerdicts() throws {
        _ = try LockFiles.create(
            path: "\(directory)/old.lock",
            bytes: LockFileContent(holder: "gone", expiration: Date(timeIntervalSince1970: 0)).encoded())
        _ = try holdLock("live.lock")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(directory)/live"))
        let url = try startServe()
        let served = try getJSON("\(url)/api/v1/locks")
        let listed = try TestSupport.run(
            TestSupport.executable("locktop"), ["list", "--json", "--dir", directory],
            environment: ["XDG_STATE_HOME": state])
        let list = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(listed.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(Set(served.keys), Set(list.keys))
        /// Each lock's verdict, as a document gives it.
        func verdicts(_ document: [String: Any]) -> [String] {
            ((document["locks"] as? [[String: Any]]) ?? []).map {
                "\($0["key"] ?? "") \($0["state"] ?? "") \($0["verdict"] ?? "") \($0["reason"] ?? "")"
            }
        }
        XCTAssertEqual(verdicts(served), verdicts(list))
        XCTAssertEqual(verdicts(served).count, 2, "\(served)")
        XCTAssertEqual((served["records"] as? [[String: Any]])?.count, 1)
        XCTAssertEqual(served["records_directory"] as? String, directory)
    }

    func testSeveralSourcesAreServedEachUnderItsOwnLabel() throws {
        let redis = try RedisServer(for: self)
        let second = TestSupport.temporaryDirectory(for: self)
        _ = try holdLock("orders.lock")
        _ = try LockFiles.create(
            path: "\(second)/billing.lock",
            bytes: LockFileContent(holder: "x", expiration: Date(timeIntervalSince1970: 0)).encoded())
        let url = try startServe(["--dir", "", "--dir", second, "--redis", redis.url(), "--no-fanotify"])
        let stream = try start("/usr/bin/curl", ["-s", "-N", "\(url)/api/v1/events"])
        XCTAssertTrue(stream.waitForOutput(containing: ": locktop events", timeout: 10), stream.standardOutput)
        let redisLabel = #"source="redis://127.0.0.1:\#(redis.port)/0""#
        var exposition = ""
        XCTAssertTrue(
            try TestSupport.eventually {
                exposition = try self.get("\(url)/metrics")
                return self.sample(exposition, "locktop_locks", "\(self.sourceLabel),state=\"held\"") == "1.0"
            }, exposition)
        XCTAssertEqual(sample(exposition, "locktop_locks", #"source="\#(second)",state="expired""#), "1.0", exposition)
        XCTAssertEqual(sample(exposition, "locktop_locks", #"source="\#(second)",state="held""#), "0.0")
        XCTAssertEqual(sample(exposition, "locktop_source_up", redisLabel), "1.0", exposition)
        XCTAssertEqual(
            exposition.components(separatedBy: "\n# TYPE locktop_locks gauge\n").count, 2, "one family for all")
        // A prefect-redis lock shows under its server, and its event names its source.
        let set = try TestSupport.run(
            "/usr/bin/redis-cli", ["-p", String(redis.port), "SET", "lock:payments", "holder-1", "NX"])
        XCTAssertEqual(set.standardOutput, "OK\n")
        XCTAssertTrue(
            try TestSupport.eventually(timeout: 15) {
                exposition = try self.get("\(url)/metrics")
                // It names no process: held, by a holder nobody can judge.
                return self.sample(exposition, "locktop_locks", "\(redisLabel),state=\"held_unknown\"") == "1.0"
            }, exposition)
        XCTAssertTrue(
            TestSupport.eventually {
                self.streamedEvents(stream).contains { object in
                    object["key"] as? String == "payments"
                        && object["source"] as? String == "redis://127.0.0.1:\(redis.port)/0"
                }
            }, stream.standardOutput)
        // /api/v1/locks holds each source's list --json document, in order.
        let document = try getJSON("\(url)/api/v1/locks")
        let sources = try XCTUnwrap(document["sources"] as? [[String: Any]], "\(document)")
        XCTAssertEqual(sources.count, 3)
        XCTAssertEqual(sources[0]["records_directory"] as? String, directory)
        XCTAssertEqual(sources[1]["records_directory"] as? String, second)
        XCTAssertEqual(sources[2]["redis"] as? String, "redis://127.0.0.1:\(redis.port)/0")
        XCTAssertEqual(((sources[2]["locks"] as? [[String: Any]]) ?? []).map { $0["key"] as? String }, ["payments"])
        // The same source twice is refused.
        let twice = try TestSupport.run(
            TestSupport.executable("locktop"),
            ["serve", "--dir", second, "--dir", second, "--listen", "127.0.0.1:\(RedisServer.freePort())"],
            environment: ["XDG_STATE_HOME": state])
        XCTAssertNotEqual(twice.status, 0)
        XCTAssertTrue(twice.standardError.contains("given twice"), twice.standardError)
    }

    func testUnderFiftyScrapersAndTwentyEventStreamsNothingFailsAndTheMonitorKeepsUp() throws {
        let python = try TestSupport.prefectPython("3.9.1")
        let url = try startServe()
        let eventsFile = "\(state)/events.jsonl"
        let load = try start(
            python, [TestSupport.prefectScript("serve_load.py"), url, "30", "50", "20", eventsFile, "1"])
        XCTAssertTrue(load.waitForOutput(containing: "streaming", timeout: 30), load.standardError)
        // Each scraper scrapes every second, as a Prometheus set to scrape every second does: 50
        // scrapes a second, where one Prometheus scrapes a target every 15 s. Lock changes throughout: 10 keys, a lock taken every 100 ms and released 50 ms later.
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        var taken: [String: [Date]] = [:]
        let started = Date()
        var index = 0
        while Date().timeIntervalSince(started) < 28 {
            let key = "k\(index % 10)"
            XCTAssertTrue(try store.acquireLock(key: key, holder: "h\(index)", acquireTimeout: 0))
            // The lock file is in place by the time the acquisition returns.
            taken[key, default: []].append(Date())
            usleep(50_000)
            try store.releaseLock(key: key, holder: "h\(index)")
            usleep(50_000)
            index += 1
        }
        let finished = load.wait(timeout: 60)
        XCTAssertEqual(finished.status, 0, finished.standardError)
        let summary = try XCTUnwrap(
            try JSONSerialization.jsonObject(
                with: Data((finished.standardOutput.split(separator: "\n").last ?? "").utf8)) as? [String: Any],
            finished.standardOutput)
        XCTAssertEqual(summary["failures"] as? Int, 0, "\(summary)")
        XCTAssertGreaterThan(summary["scrapes"] as? Int ?? 0, 1400, "\(summary)")
        XCTAssertEqual(
            summary["acquired"] as? [Int], Array(repeating: index, count: 20), "every stream saw every acquisition")
        // The monitor's latency: from the lock file's being in place to the event's time.
        var latencies: [Double] = []
        var seen: [String: Int] = [:]
        let lines = try String(contentsOfFile: eventsFile, encoding: .utf8).split(separator: "\n")
        for line in lines {
            let event = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard event["type"] as? String == "acquired", let key = event["key"] as? String,
                let time = (event["time"] as? String).flatMap(PrefectTimestamp.parse)
            else { continue }
            let position = seen[key, default: 0]
            seen[key] = position + 1
            guard let times = taken[key], position < times.count else { continue }
            latencies.append(time.timeIntervalSince(times[position]))
        }
        latencies.sort()
        XCTAssertEqual(latencies.count, index)
        let p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        XCTAssertLessThan(
            p99, 0.005,
            "event latency p99 under load; p50 \(latencies[latencies.count / 2]), top \(latencies.suffix(5)); \(summary)"
        )
        XCTAssertLessThan(summary["max_ms"] as? Double ?? 1e9, 2000, "no scrape stalls: \(summary)")
    }

    func testAnEventStreamSeesAnAcquisitionWithin50Milliseconds() throws {
        let python = try TestSupport.prefectPython("3.9.1")
        let url = try startServe()
        let eventsFile = "\(state)/events.jsonl"
        // No scrapers, one stream, for 12 s.
        let load = try start(python, [TestSupport.prefectScript("serve_load.py"), url, "12", "0", "1", eventsFile])
        XCTAssertTrue(load.waitForOutput(containing: "streaming", timeout: 30), load.standardError)
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        var created: [Date] = []
        for index in 0..<20 {
            created.append(Date())
            XCTAssertTrue(try store.acquireLock(key: "k\(index)", holder: "h", acquireTimeout: 0))
            usleep(200_000)
        }
        _ = load.wait(timeout: 60)
        let received = try String(contentsOfFile: eventsFile, encoding: .utf8).split(separator: "\n").compactMap {
            line -> (key: String, at: Double)? in
            guard let event = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                event["type"] as? String == "acquired", let key = event["key"] as? String,
                let at = event["received"] as? Double
            else { return nil }
            return (key, at)
        }
        XCTAssertEqual(received.map(\.key), (0..<20).map { "k\($0)" })
        for (index, event) in received.enumerated() {
            let delay = event.at - created[index].timeIntervalSince1970
            XCTAssertLessThan(delay, 0.05, "\(event.key) reached the stream after \(Int(delay * 1000)) ms")
        }
    }
}
