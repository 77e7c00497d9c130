import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// locktop's Prefect helper (integrations/prefect) with real Prefect 3.9.1: its lock files name the
/// holder's process, so locktop judges them without root, and plain Prefect still reads, waits on
/// and releases them.
final class PrefectHelperTests: XCTestCase {
    var directory = ""
    var home = ""
    var state = ""
    let nobody = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"]

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
        home = TestSupport.temporaryDirectory(for: self)
        state = TestSupport.temporaryDirectory(for: self)
    }

    func prefect(_ python: String, _ arguments: [String], helper: Bool) throws -> String {
        let outcome = try TestSupport.run(
            python, [TestSupport.prefectScript("prefect_lock.py")] + arguments,
            environment: ["PREFECT_HOME": home, "DO_NOT_TRACK": "1", "LOCKTOP_HELPER": helper ? "1" : "0"])
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        return outcome.standardOutput.split(separator: "\n").last.map(String.init) ?? ""
    }

    /// The locks of `list --json`, run as nobody when root can drop to it, so fanotify cannot help.
    func listedLocks() throws -> [[String: Any]] {
        let locktop = TestSupport.executable("locktop")
        let arguments = ["list", "--dir", directory, "--json"]
        let outcome =
            getuid() == 0
            ? try TestSupport.run(
                "/usr/bin/setpriv", nobody + [locktop] + arguments, environment: ["XDG_STATE_HOME": state])
            : try TestSupport.run(locktop, arguments, environment: ["XDG_STATE_HOME": state])
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        let document = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any])
        return document["locks"] as? [[String: Any]] ?? []
    }

    func testTheHelpersDistributionKeepsLocktopsVersionAndARedisExtra() throws {
        let pyproject = try String(
            contentsOfFile: "\(TestSupport.packageRoot)/integrations/prefect/pyproject.toml", encoding: .utf8)
        let version = try TestSupport.run(TestSupport.executable("locktop"), ["--version"]).standardOutput
            .trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(pyproject.contains("version = \"\(version)\""), "locktop-prefect is locktop \(version)")
        XCTAssertTrue(pyproject.contains("redis = [\"prefect-redis"), pyproject)
    }

    func testARealFlowsCachedTaskLockNamesItsProcessAndFlowRunWithoutRoot() throws {
        let python = try TestSupport.prefectPython("3.9.1")
        let run = try TestSupport.start(
            python, [TestSupport.prefectScript("helper_flow.py"), directory, "4"],
            environment: [
                "PREFECT_HOME": home, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "150",
            ])
        defer {
            run.signal(SIGKILL)
            _ = run.wait(timeout: 10)
        }
        XCTAssertTrue(run.waitForOutput(containing: "inside", timeout: 170), run.standardOutput + run.standardError)
        let pid = Int(run.process.processIdentifier)
        let lock = try XCTUnwrap(try listedLocks().first, "the task's lock is listed")
        XCTAssertEqual(lock["state"] as? String, "held")
        XCTAssertEqual(lock["liveness"] as? String, "alive", "judged without root from the lock's own fields")
        XCTAssertEqual(lock["identity_source"] as? String, "lock-file")
        let process = try XCTUnwrap(lock["holder_process"] as? [String: Any])
        XCTAssertEqual(process["pid"] as? Int, pid)
        XCTAssertTrue((process["command"] as? String)?.contains("helper_flow.py") == true, "\(process)")
        XCTAssertNotNil(process["flow_run_id"] as? String, "\(process)")
        // The lock's key is a cache hash; the helper names the task and runs behind it.
        XCTAssertTrue(RecordKey.isCacheHash(lock["key"] as? String ?? ""), "\(lock)")
        let prefect = try XCTUnwrap(lock["prefect"] as? [String: Any], "\(lock)")
        XCTAssertEqual(prefect["task_name"] as? String, "slow_double")
        XCTAssertTrue((prefect["task_run_name"] as? String)?.hasPrefix("slow_double-") == true, "\(prefect)")
        XCTAssertNotNil(prefect["task_run_id"] as? String)
        XCTAssertEqual(prefect["flow_run_id"] as? String, process["flow_run_id"] as? String)
        XCTAssertNotNil(prefect["flow_run_name"] as? String)
        XCTAssertTrue(run.waitForOutput(containing: "result 42", timeout: 60), run.standardOutput)
        XCTAssertTrue(
            TestSupport.eventually { (try? self.listedLocks().isEmpty) == true }, "Prefect released the helper's lock")
    }

    func testPlainPrefectReadsWaitsOnAndReleasesHelperLocksAndADeadHolderIsStale() throws {
        let python = try TestSupport.prefectPython("3.9.1")
        let holder = UUID().uuidString
        XCTAssertEqual(try prefect(python, ["acquire", directory, "k", holder, "none", "5"], helper: true), "acquired")
        let info = try prefect(python, ["info", directory, "k"], helper: false)
        XCTAssertTrue(info.contains(holder), info)
        XCTAssertEqual(try prefect(python, ["is-locked", directory, "k"], helper: false), "true")
        XCTAssertEqual(
            try prefect(python, ["acquire", directory, "k", UUID().uuidString, "none", "0.5"], helper: false),
            "timeout",
            "plain Prefect waits on the helper's lock")
        let lock = try XCTUnwrap(try listedLocks().first)
        XCTAssertEqual(lock["state"] as? String, "stale", "the helper process has exited holding the lock")
        XCTAssertTrue(
            (lock["reason"] as? String)?.hasPrefix("holder process") == true, String(describing: lock["reason"]))
        XCTAssertEqual(try prefect(python, ["release", directory, "k", holder], helper: false), "released")
        XCTAssertTrue(try listedLocks().isEmpty)
    }
}
