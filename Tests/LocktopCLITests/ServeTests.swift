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
        let source =
            #"source="\#(directory.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))""#
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
