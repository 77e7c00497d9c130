import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// The locktop CLI against real Prefect processes.
final class CLIPrefectInteropTests: XCTestCase {
    var directory = ""
    var home = ""

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
        home = TestSupport.temporaryDirectory(for: self)
    }

    func prefect(_ python: String, _ arguments: [String]) throws -> String {
        let outcome = try TestSupport.run(
            python, [TestSupport.prefectScript("prefect_lock.py")] + arguments,
            environment: ["PREFECT_HOME": home])
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        return outcome.standardOutput.split(separator: "\n").last.map(String.init) ?? ""
    }

    func locktop(_ arguments: [String]) throws -> TestSupport.Outcome {
        try TestSupport.run(TestSupport.executable("locktop"), arguments, environment: ["XDG_STATE_HOME": home])
    }

    func states() throws -> [String: String] {
        let outcome = try locktop(["list", "--dir", directory, "--json"])
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        let document = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any])
        let locks = try XCTUnwrap(document["locks"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: locks.map { ($0["key"] as! String, $0["state"] as! String) })
    }

    func testPrefectLocksAreListedWithTheRightStates() throws {
        let modern = try TestSupport.prefectPython("3.9.1")
        let legacy = try TestSupport.prefectPython("3.0.0")
        XCTAssertEqual(try prefect(modern, ["acquire", directory, "short", UUID().uuidString, "1", "5"]), "acquired")
        XCTAssertEqual(
            try prefect(modern, ["acquire", directory, "forever", UUID().uuidString, "none", "5"]), "acquired")
        let host = ProcessIdentity.currentHostName()
        XCTAssertEqual(
            try prefect(legacy, ["acquire", directory, "task.b", "\(host):999999:1:MainThread", "600", "5"]), "acquired"
        )
        usleep(1_300_000)
        XCTAssertEqual(try states(), ["short": "expired", "forever": "held", "task": "stale"])
    }

    func testLocktopLockBlocksPrefect() throws {
        for version in ["3.9.1", "3.0.0"] {
            let python = try TestSupport.prefectPython(version)
            let holder = try TestSupport.start(
                TestSupport.executable("locktop"), ["lock", "--dir", directory, "k", "--", "/bin/sleep", "30"])
            XCTAssertTrue(TestSupport.eventually { FileManager.default.fileExists(atPath: "\(self.directory)/k.lock") })
            XCTAssertEqual(try prefect(python, ["is-locked", directory, "k"]), "true", version)
            XCTAssertEqual(
                try prefect(python, ["acquire", directory, "k", "prefect", "none", "1"]), "timeout", version)
            holder.signal(SIGINT)
            XCTAssertEqual(holder.wait(timeout: 30).status, 128 + SIGINT)
            XCTAssertEqual(
                try prefect(python, ["acquire", directory, "k", "prefect", "none", "5"]), "acquired", version)
            XCTAssertEqual(try prefect(python, ["release", directory, "k", "prefect"]), "released", version)
        }
    }

    func testBreakExpiredLetsPrefectTakeTheKeyAgain() throws {
        let python = try TestSupport.prefectPython("3.9.1")
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "crashed-worker", holdTimeout: 0.5))
        usleep(700_000)
        XCTAssertEqual(try states(), ["k": "expired"])
        let broke = try locktop(["break", "--dir", directory, "--expired"])
        XCTAssertEqual(broke.status, 0, broke.standardError)
        XCTAssertTrue(broke.standardOutput.hasPrefix("broke k"), broke.standardOutput)
        XCTAssertEqual(try prefect(python, ["acquire", directory, "k", "prefect", "none", "0.5"]), "acquired")
        XCTAssertEqual(try states(), ["k": "held"])
    }

    func testPrefectAndLocktopLockLoopsNeverOverlap() throws {
        let python = try TestSupport.prefectPython("3.9.1")
        let work = TestSupport.temporaryDirectory(for: self)
        let iterations = 40
        let loop = """
            for i in $(seq \(iterations)); do
              "\(TestSupport.executable("locktop"))" lock --dir "\(directory)" shared -- /bin/sh "\(TestSupport.prefectScript("critical_section.sh"))" "\(work)" || echo "exit $?" >> "\(work)/errors"
            done
            """
        let shells = try (0..<2).map { _ in try TestSupport.start("/bin/sh", ["-c", loop]) }
        let prefects = try (0..<2).map { _ in
            try TestSupport.start(
                python,
                [
                    TestSupport.prefectScript("prefect_lock.py"), "contend", directory, "shared", work,
                    String(iterations),
                ],
                environment: ["PREFECT_HOME": home])
        }
        for child in shells {
            let outcome = child.wait(timeout: 600)
            XCTAssertEqual(outcome.status, 0, outcome.standardError)
        }
        for child in prefects {
            let outcome = child.wait(timeout: 600)
            XCTAssertEqual(outcome.status, 0, outcome.standardError)
            let line = outcome.standardOutput.split(separator: "\n").last ?? ""
            let summary = try XCTUnwrap(
                JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], outcome.standardError)
            XCTAssertEqual(summary["overlaps"] as? Int, 0)
        }
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: "\(work)/overlaps"),
            (try? String(contentsOfFile: "\(work)/overlaps", encoding: .utf8)) ?? "")
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: "\(work)/errors"),
            (try? String(contentsOfFile: "\(work)/errors", encoding: .utf8)) ?? "")
        XCTAssertEqual(
            try String(contentsOfFile: "\(work)/counter", encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines), String(4 * iterations))
    }
}
