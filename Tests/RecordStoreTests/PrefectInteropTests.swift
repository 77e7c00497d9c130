import Foundation
import LocktopTestSupport
import XCTest

@testable import RecordStore

/// Real Prefect processes and RecordStore see one another's locks.
final class PrefectInteropTests: XCTestCase {
    let versions = ["3.9.1", "3.0.0"]

    func prefect(_ python: String, _ arguments: [String], home: String) throws -> String {
        let outcome = try TestSupport.run(
            python, [TestSupport.prefectScript("prefect_lock.py")] + arguments,
            environment: ["PREFECT_HOME": home])
        XCTAssertEqual(outcome.status, 0, outcome.standardError)
        return outcome.standardOutput.split(separator: "\n").last.map(String.init) ?? ""
    }

    func testLocksWrittenByPrefectAreRead() throws {
        for version in versions {
            let python = try TestSupport.prefectPython(version)
            let directory = TestSupport.temporaryDirectory(for: self)
            let holder = UUID().uuidString.lowercased()
            let before = Date()
            XCTAssertEqual(
                try prefect(python, ["acquire", directory, "task.b", holder, "300", "5"], home: directory + "/home"),
                "acquired")
            XCTAssertEqual(
                try prefect(
                    python, ["acquire", directory, "plain", "web:1:2:MainThread", "none", "5"],
                    home: directory + "/home"), "acquired")
            let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
            guard case .readable(let snapshot) = try store.observeLock(key: "task.c") else { return XCTFail(version) }
            XCTAssertEqual(snapshot.content.holder, holder, version)
            let expiration = try XCTUnwrap(snapshot.content.expiration, version)
            XCTAssertEqual(expiration.timeIntervalSince(before), 300, accuracy: 30, version)
            XCTAssertTrue(store.isLocked(key: "task.b"), version)
            XCTAssertTrue(store.isLockHolder(key: "task.b", holder: holder), version)
            guard case .readable(let plain) = try store.observeLock(key: "plain") else { return XCTFail(version) }
            XCTAssertNil(plain.content.expiration, version)
            XCTAssertEqual(LockHolder(plain.content.holder).processID, 1, version)
            XCTAssertFalse(try store.acquireLock(key: "task.b", holder: "swift", acquireTimeout: 0.1), version)
        }
    }

    func testPrefectSeesOurLockAndWaitsUntilWeRelease() throws {
        for version in versions {
            let python = try TestSupport.prefectPython(version)
            let directory = TestSupport.temporaryDirectory(for: self)
            let home = directory + "/home"
            let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
            XCTAssertTrue(try store.acquireLock(key: "k", holder: "swift-holder", holdTimeout: 600))
            XCTAssertEqual(try prefect(python, ["is-locked", directory, "k"], home: home), "true", version)
            let info = try prefect(python, ["info", directory, "k"], home: home)
            let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(info.utf8)) as? [String: Any], info)
            XCTAssertEqual(parsed["holder"] as? String, "swift-holder", version)
            XCTAssertEqual(
                try XCTUnwrap(parsed["expiration"] as? Double), Date().timeIntervalSince1970 + 600, accuracy: 60,
                version)
            XCTAssertEqual(
                try prefect(python, ["acquire", directory, "k", "prefect", "none", "1"], home: home), "timeout", version
            )
            let waiter = try TestSupport.start(
                python,
                [TestSupport.prefectScript("prefect_lock.py"), "acquire", directory, "k", "prefect", "none", "60"],
                environment: ["PREFECT_HOME": home])
            usleep(1_500_000)
            XCTAssertTrue(waiter.process.isRunning, "Prefect \(version) is still waiting for our lock")
            try store.releaseLock(key: "k", holder: "swift-holder")
            let outcome = waiter.wait(timeout: 60)
            XCTAssertEqual(outcome.standardOutput.split(separator: "\n").last, "acquired", version)
            XCTAssertTrue(store.isLockHolder(key: "k", holder: "prefect"), version)
        }
    }
}
