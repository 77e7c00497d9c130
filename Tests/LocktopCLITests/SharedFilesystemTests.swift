import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// A records directory seen through a FUSE mount (bindfs), written from underneath as another host
/// would: inotify sees none of it, so locktop detects the mount, polls, and shows each change
/// within one interval plus half a second.
final class SharedFilesystemTests: XCTestCase {
    var source = ""
    var mount = ""
    var state = ""
    let interval = 2.0

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/bindfs") else {
            if TestSupport.isCI { XCTFail("bindfs is not installed; run scripts/setup.sh") }
            throw XCTSkip("bindfs is not installed")
        }
        source = TestSupport.temporaryDirectory(for: self)
        mount = TestSupport.temporaryDirectory(for: self)
        state = TestSupport.temporaryDirectory(for: self)
        let mounted = TestSupport.runLeavingDaemons("/usr/bin/bindfs", [source, mount])
        guard mounted.status == 0 else {
            if TestSupport.isCI { XCTFail("bindfs could not mount: \(mounted.output)") }
            throw XCTSkip("bindfs could not mount: \(mounted.output)")
        }
        let mount = self.mount
        addTeardownBlock { _ = TestSupport.runLeavingDaemons("/bin/fusermount", ["-u", "-z", mount]) }
    }

    func writeFromAnotherHost(_ name: String, holder: String) throws {
        try LockFiles.replace(
            path: "\(source)/\(name)", bytes: LockFileContent(holder: holder, expiration: nil).encoded())
    }

    func testEventsOnAFuseMountReportEachChangeWithinTheIntervalAndAHalf() throws {
        let events = try TestSupport.start(
            TestSupport.executable("locktop"), ["events", "--dir", mount, "--json"],
            environment: ["XDG_STATE_HOME": state])
        defer {
            events.signal(SIGTERM)
            _ = events.wait(timeout: 10)
        }
        usleep(500_000)
        for index in 0..<3 {
            let written = Date()
            try writeFromAnotherHost("remote-\(index).lock", holder: "host-b:\(index)")
            XCTAssertTrue(
                events.waitForOutput(containing: #""key": "remote-\#(index)""#, timeout: 10), events.standardOutput)
            XCTAssertLessThan(
                Date().timeIntervalSince(written), interval + 0.5, "change \(index) seen within the interval")
            let removed = Date()
            try FileSystem.removeName("\(source)/remote-\(index).lock")
            XCTAssertTrue(
                TestSupport.eventually(timeout: 10) {
                    events.standardOutput.contains(#""type": "released", "key": "remote-\#(index)""#)
                }, events.standardOutput)
            XCTAssertLessThan(Date().timeIntervalSince(removed), interval + 0.5)
        }
    }

    func testTheDashboardOnAFuseMountPollsAndShowsAnotherHostsLock() throws {
        let session = try TmuxSession(
            command: [TestSupport.executable("locktop"), "--dir", mount], environment: ["XDG_STATE_HOME": state])
        XCTAssertTrue(session.waitForScreen { $0.contains("[polling every 2s]") }, session.screen)
        usleep(300_000)
        let written = Date()
        try writeFromAnotherHost("from-host-b.lock", holder: "host-b:4242:1:MainThread")
        XCTAssertTrue(session.waitForScreen(timeout: 10) { $0.contains("from-host-b") }, session.screen)
        XCTAssertLessThan(Date().timeIntervalSince(written), interval + 0.5)
    }
}
