import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// What scripts read: rows only with `-o`/`-n`, one usage line for a usage error, reasons said once,
/// `release --dry-run`, and a refusal that names the holder found.
final class ScriptOutputTests: XCTestCase {
    var directory = ""
    var state = ""

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
        state = TestSupport.temporaryDirectory(for: self)
    }

    func locktop(_ arguments: [String], environment: [String: String] = [:]) throws -> TestSupport.Outcome {
        try TestSupport.run(
            TestSupport.executable("locktop"), arguments,
            environment: environment.merging(["XDG_STATE_HOME": state]) { $1 })
    }

    func write(_ name: String, holder: String, expiration: Date? = nil) throws {
        try LockFiles.replace(
            path: "\(directory)/\(name)", bytes: LockFileContent(holder: holder, expiration: expiration).encoded())
    }

    func testTheTableWithColumnsOrWithoutHeadingsPrintsTheRowsOnly() throws {
        try write("alpha.lock", holder: "h")
        try write("beta.lock", holder: "h")
        FileManager.default.createFile(atPath: "\(directory)/gamma", contents: Data("{}".utf8))
        let keys = try locktop(["list", "--dir", directory, "-o", "key", "-n"])
        XCTAssertEqual(keys.status, 0, keys.standardError)
        XCTAssertEqual(keys.standardOutput, "alpha\nbeta\n", "a while-read loop gets keys, and nothing else")
        let headed = try locktop(["list", "--dir", directory, "-o", "key"])
        XCTAssertEqual(headed.standardOutput, "KEY\nalpha\nbeta\n")
        try FileManager.default.removeItem(atPath: "\(directory)/alpha.lock")
        try FileManager.default.removeItem(atPath: "\(directory)/beta.lock")
        XCTAssertEqual(try locktop(["list", "--dir", directory, "-n"]).standardOutput, "", "no locks: no rows")
        XCTAssertTrue(
            try locktop(["list", "--dir", directory]).standardOutput.contains("no locks\n"), "the human table says so")
    }

    func testABareLocktopWithNoDirectoryPrintsTheErrorAndOneUsageLine() throws {
        let home = TestSupport.temporaryDirectory(for: self)
        let outcome = try locktop([], environment: ["HOME": home, "PREFECT_HOME": "\(home)/.prefect"])
        XCTAssertEqual(outcome.status, 64)
        let lines = outcome.standardError.split(separator: "\n")
        XCTAssertEqual(lines.count, 3, outcome.standardError)
        XCTAssertTrue(lines.first?.hasPrefix("Error: no Prefect records or locks directory found") == true)
        XCTAssertTrue(lines.dropFirst().first?.hasPrefix("Usage: locktop") == true, outcome.standardError)
        XCTAssertFalse(outcome.standardError.contains("SUBCOMMANDS"), "not the whole help")
    }

    func testReleaseDryRunSaysWhatItWouldDoAndARefusalNamesTheHolderFound() throws {
        let dead = "\(ProcessIdentity.current.hostName):\(TestSupport.goneProcessID()):1:MainThread"
        try write("dead.lock", holder: dead)
        let wouldBreak = try locktop(["release", "--dir", directory, "dead", "--dry-run"])
        XCTAssertEqual(wouldBreak.status, 0, wouldBreak.standardError)
        XCTAssertTrue(wouldBreak.standardOutput.hasPrefix("would break dead"), wouldBreak.standardOutput)
        try write("mine.lock", holder: "me")
        let wouldRelease = try locktop(["release", "--dir", directory, "mine", "--holder", "me", "--dry-run"])
        XCTAssertTrue(wouldRelease.standardOutput.hasPrefix("would release mine"), wouldRelease.standardOutput)
        XCTAssertEqual(
            Set(try FileManager.default.contentsOfDirectory(atPath: directory)), ["dead.lock", "mine.lock"],
            "a dry run removes nothing")
        let other = try locktop(["release", "--dir", directory, "mine", "--holder", "other"])
        XCTAssertEqual(other.status, 3)
        XCTAssertTrue(
            other.standardError.contains(#"lock "mine" is held by "me", not by "other""#), other.standardError)
    }

    func testAStaleEventSaysItsReasonOnce() throws {
        let events = try TestSupport.start(
            TestSupport.executable("locktop"), ["events", "--dir", directory, "--no-fanotify"],
            environment: ["XDG_STATE_HOME": state])
        defer {
            events.signal(SIGTERM)
            _ = events.wait(timeout: 10)
        }
        usleep(500_000)
        let pid = TestSupport.goneProcessID()
        try write("dead.lock", holder: "\(ProcessIdentity.current.hostName):\(pid):1:MainThread")
        XCTAssertTrue(events.waitForOutput(containing: " stale "), events.standardOutput)
        let line = try XCTUnwrap(events.standardOutput.split(separator: "\n").first { $0.contains(" stale ") })
        XCTAssertEqual(line.components(separatedBy: "holder process \(pid) is gone").count, 2, String(line))
    }
}
