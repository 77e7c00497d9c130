import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// Root acts only in the directory the operator named: another uid who swaps that directory for a
/// symbolic link (in a sticky shared tree, where it may) sends no break, lock or watch elsewhere.
final class NamedDirectoryTests: XCTestCase {
    var shared = ""
    var records = ""
    var victim = ""
    var state = ""

    /// `/tmp/X/shared` (root's, 1777, as `/tmp` is) holds `records`, which a worker of another uid
    /// made; `/tmp/X/victim` is root's own directory, holding `important.lock`, whose holder is dead.
    override func setUpWithError() throws {
        try PrefectWorkers.requireRoot()
        let top = TestSupport.temporaryDirectory(for: self)
        shared = "\(top)/shared"
        records = "\(shared)/records"
        victim = "\(top)/victim"
        state = TestSupport.temporaryDirectory(for: self)
        for path in [shared, victim] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        }
        XCTAssertEqual(chmod(shared, 0o1777), 0)
        XCTAssertEqual(try asOtherUid("mkdir \(records)").status, 0)
        let dead = LockFileContent(
            holder: "\(ProcessIdentity.current.hostName):\(TestSupport.goneProcessID()):1:T", expiration: nil)
        try LockFiles.replace(path: "\(victim)/important.lock", bytes: dead.encoded())
    }

    func asOtherUid(_ script: String) throws -> TestSupport.Outcome {
        try TestSupport.run("/usr/bin/setpriv", PrefectWorkers.asNobody + ["/bin/sh", "-c", script])
    }

    func locktop(_ arguments: [String]) throws -> TestSupport.Outcome {
        try TestSupport.run(TestSupport.executable("locktop"), arguments, environment: ["XDG_STATE_HOME": state])
    }

    /// The other uid's swap: `records` aside, a link to root's directory in its place.
    func swapRecordsForALinkToTheVictim() throws {
        let swapped = try asOtherUid("mv \(records) \(records).old && ln -s \(victim) \(records)")
        XCTAssertEqual(swapped.status, 0, swapped.standardError)
    }

    func testReleaseAndLockNeverFollowALinkSwappedInForTheDirectory() throws {
        try swapRecordsForALinkToTheVictim()
        let release = try locktop(["release", "important", "--force", "--allow-untrusted-parent", "--dir", records])
        XCTAssertNotEqual(release.status, 0)
        XCTAssertTrue(release.standardError.contains("is a symbolic link"), release.standardError)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(victim)/important.lock"), "root's lock is still there")
        let lock = try locktop(["lock", "fresh", "--dir", records, "--", "/bin/true"])
        XCTAssertNotEqual(lock.status, 0)
        XCTAssertTrue(lock.standardError.contains("is a symbolic link"), lock.standardError)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: victim), ["important.lock"], "nothing made")
        let broken = try locktop(["break", "--stale", "--allow-untrusted-parent", "--dir", records])
        XCTAssertNotEqual(broken.status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(victim)/important.lock"))
    }

    func testAWatcherReportsTheSwapAndNeverSwitchesToTheOtherDirectory() throws {
        let watcher = try TestSupport.start(
            TestSupport.executable("locktop"), ["events", "--json", "--dir", records],
            environment: ["XDG_STATE_HOME": state])
        defer {
            watcher.signal(SIGTERM)
            _ = watcher.wait(timeout: 10)
        }
        XCTAssertTrue(
            TestSupport.eventually { watcher.standardError.contains("breaks are refused here") }, "the watcher is up")
        XCTAssertTrue(
            try asOtherUid("printf '{\"holder\": \"w\", \"expiration\": null}' > \(records)/ours.lock").status == 0)
        XCTAssertTrue(
            watcher.waitForOutput(containing: #""key": "ours""#), watcher.standardOutput + watcher.standardError)
        let opened = try XCTUnwrap(FileSystem.status(records))
        try swapRecordsForALinkToTheVictim()
        XCTAssertTrue(
            watcher.waitForOutput(containing: #""type": "directory_replaced""#),
            watcher.standardOutput + watcher.standardError)
        let line = try XCTUnwrap(
            watcher.standardOutput.split(separator: "\n").first { $0.contains("directory_replaced") })
        XCTAssertTrue(line.contains(#""old_directory": {"device": ""#), String(line))
        XCTAssertTrue(line.contains(#""inode": \#(opened.inode)}"#), String(line))
        XCTAssertTrue(line.contains(#""new_is_symlink": true"#), String(line))
        // Root's directory, behind the link, stays unwatched: a lock taken there is not reported.
        let fresh = LockFileContent(holder: "root-job", expiration: nil)
        try LockFiles.replace(path: "\(victim)/later.lock", bytes: fresh.encoded())
        XCTAssertFalse(watcher.waitForOutput(containing: #""key": "later""#, timeout: 3), watcher.standardOutput)
        XCTAssertFalse(watcher.standardOutput.contains(#""key": "important""#), watcher.standardOutput)
    }
}
