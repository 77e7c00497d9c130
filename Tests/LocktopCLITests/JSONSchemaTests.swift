import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// Every JSON output keeps to docs/json.md.
final class JSONSchemaTests: XCTestCase {
    var directory = ""
    var state = ""

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
        state = TestSupport.temporaryDirectory(for: self)
    }

    func locktop(_ arguments: [String]) throws -> TestSupport.Outcome {
        try TestSupport.run(TestSupport.executable("locktop"), arguments, environment: ["XDG_STATE_HOME": state])
    }

    func write(_ name: String, holder: String, expiration: Date?) throws {
        try LockFiles.replace(
            path: "\(directory)/\(name)", bytes: LockFileContent(holder: holder, expiration: expiration).encoded())
    }

    func testEveryDocumentedEventTypeHasAValidExample() throws {
        let documented = try DocumentedJSON.load()
        XCTAssertEqual(documented.eventFields.count, 18)
        let types = documented.examples.compactMap { documented.checkEvent($0) }
        XCTAssertEqual(Set(types), Set(documented.eventFields.keys), "one example per event type")
    }

    func testEveryEmittedEventKeepsToTheDocument() throws {
        let documented = try DocumentedJSON.load()
        let events = try TestSupport.start(
            TestSupport.executable("locktop"),
            // Without fanotify: as root it would see this test, alive, write d.lock, which is then never suspect.
            ["events", "--dir", directory, "--json", "--stale-after", "2s", "--grace", "0.5", "--no-fanotify"],
            environment: ["XDG_STATE_HOME": state])
        defer {
            events.signal(SIGTERM)
            _ = events.wait(timeout: 10)
        }
        usleep(400_000)
        try write("a.lock", holder: "one", expiration: Date().addingTimeInterval(1))
        usleep(150_000)
        try write("a.lock", holder: "one", expiration: Date().addingTimeInterval(1.2))
        try write("b.lock", holder: "two", expiration: nil)
        FileManager.default.createFile(atPath: "\(directory)/garbled.lock", contents: Data("{\"hol".utf8))
        usleep(150_000)
        XCTAssertEqual(try locktop(["release", "--dir", directory, "b", "--force"]).status, 0)
        try write("c.lock", holder: "three", expiration: nil)
        usleep(100_000)
        try FileSystem.removeName("\(directory)/c.lock")
        try write("d.lock", holder: "ageing", expiration: nil)
        try write(
            "e.lock", holder: "\(ProcessIdentity.current.hostName):\(TestSupport.goneProcessID()):1:MainThread",
            expiration: nil)
        let wanted: Set<String> = [
            "acquired", "changed", "expired", "released", "broken", "stale", "suspect", "unreadable",
        ]
        var seen: Set<String> = []
        XCTAssertTrue(
            TestSupport.eventually(timeout: 15) {
                seen = Set(
                    events.standardOutput.split(separator: "\n").compactMap { documented.checkEvent(String($0)) })
                return seen.isSuperset(of: wanted)
            }, "saw \(seen.sorted()) of \(wanted.sorted()): \(events.standardOutput)")
    }

    func testListBreakAndAuditDocumentsKeepToTheDocument() throws {
        let documented = try DocumentedJSON.load()
        try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(directory)/task.b"))
        try write("task.lock", holder: "\(ProcessIdentity.currentHostName()):\(getpid()):1:MainThread", expiration: nil)
        try write("old.lock", holder: "gone", expiration: Date().addingTimeInterval(-5))
        try FileManager.default.createSymbolicLink(
            atPath: "\(directory)/link.lock", withDestinationPath: "/etc/hostname")
        for (arguments, name) in [
            (["list", "--dir", directory, "--json", "--summaries"], "list"),
            (["break", "--dir", directory, "--json"], "break"),
            (["audit", "--json"], "audit"),
        ] {
            let outcome = try locktop(arguments)
            XCTAssertEqual(outcome.status, 0, outcome.standardError)
            let document = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8))
            XCTAssertEqual((document as? [String: Any])?["schema"] as? Int, 2, name)
            documented.checkDocument(document, as: name)
            if name == "list" {
                let locks = (document as? [String: Any])?["locks"] as? [[String: Any]] ?? []
                let task = locks.first { $0["key"] as? String == "task" }
                XCTAssertEqual(
                    (task?["holder_process"] as? [String: Any])?["pid"] as? Int, Int(getpid()),
                    "the holder's process, from /proc")
                XCTAssertEqual(task?["identity_source"] as? String, "holder-string")
            }
        }
    }
}
