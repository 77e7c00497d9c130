import Foundation
import LocktopTestSupport
import RecordStore
import XCTest

/// What is on disk cannot crash, fool or expose root: the state directory is the operator's alone,
/// no file locktop reads can crash it, and locks whose names need escaping stay watched.
final class RunningAsRootTests: XCTestCase {
    var places: PrefectWorkers.Places!
    var directory: String { places.directory }
    var state: String { places.state }

    override func setUp() {
        places = PrefectWorkers.Places(for: self)
    }

    func locktop(_ arguments: [String], as user: [String] = []) throws -> TestSupport.Outcome {
        let environment = ["XDG_STATE_HOME": state]
        if user.isEmpty {
            return try TestSupport.run(TestSupport.executable("locktop"), arguments, environment: environment)
        }
        return try TestSupport.run(
            "/usr/bin/setpriv", user + [TestSupport.executable("locktop")] + arguments, environment: environment)
    }

    func mode(_ path: String) throws -> Int {
        try XCTUnwrap((try FileManager.default.attributesOfItem(atPath: path))[.posixPermissions] as? Int)
    }

    func writeDeadHoldersLock(_ name: String) throws {
        let content = LockFileContent(
            holder: "\(ProcessIdentity.current.hostName):\(TestSupport.goneProcessID()):1:MainThread", expiration: nil)
        try LockFiles.replace(path: "\(directory)/\(name)", bytes: content.encoded())
    }

    func testTheStateDirectoryIsMade0700WithFiles0600AndOneAnotherUidOwnsIsRefused() throws {
        try writeDeadHoldersLock("dead.lock")
        let broke = try locktop(["break", "--dir", directory, "--stale"])
        XCTAssertEqual(broke.status, 0, broke.standardError)
        XCTAssertEqual(try mode("\(state)/locktop"), 0o700, "it holds other users' command lines")
        XCTAssertEqual(try mode("\(state)/locktop/audit.log"), 0o600)

        // Another uid's state directory: root refuses to log a break there, so the break is not made.
        try PrefectWorkers.requireRoot()
        try writeDeadHoldersLock("second.lock")
        XCTAssertEqual(chown("\(state)/locktop", 65534, 65534), 0)
        let refused = try locktop(["break", "--dir", directory, "--stale"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(
            refused.standardError.contains("refusing the state at \(state)/locktop: it is owned by uid 65534, not 0"),
            refused.standardError)
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: "\(directory)/second.lock"),
            "a break that cannot be logged is not made")
        XCTAssertEqual(chown("\(state)/locktop", 0, 0), 0)
        XCTAssertEqual(chmod("\(state)/locktop", 0o777), 0)
        let writable = try locktop(["break", "--dir", directory, "--stale"])
        XCTAssertTrue(writable.standardError.contains("others may write it (mode 777)"), writable.standardError)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/second.lock"))
    }

    func testAnIdentityFileNamingAnImpossiblePidCrashesNothing() throws {
        let lock = "\(directory)/big.lock"
        try LockFiles.replace(path: lock, bytes: LockFileContent(holder: "9d87db93-4b04", expiration: nil).encoded())
        let status = try XCTUnwrap(try FileSystem.status(lock))
        let identity = """
            {"schema": 1, "locks": [{"device": "\(status.device)", "inode": "\(status.inode)", "modified_ns": "\(status.modifiedNanoseconds)",
              "creator": {"pid": 1e300, "host": "x", "command": "forged"}, "waiters": [{"process": {"pid": -5, "host": "x", "command": "w"}}]}]}
            """
        try FileManager.default.createDirectory(
            atPath: "\(state)/locktop", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        XCTAssertTrue(
            FileManager.default.createFile(
                atPath: "\(state)/locktop/identities.json", contents: Data(identity.utf8),
                attributes: [.posixPermissions: 0o600]))
        let listed = try locktop(["list", "--dir", directory, "--json"])
        XCTAssertEqual(listed.status, 0, "no SIGILL on Int32(1e300): \(listed.standardError)")
        XCTAssertTrue(listed.standardOutput.contains(#""identity_source": "none""#), listed.standardOutput)
    }

    func testAPidInALockFileCountsOnlyWhenTheFilesOwnerRunsIt() throws {
        try PrefectWorkers.requireRoot()
        // Another uid writes a lock that names pid 1 (root's init) and a flow run.
        let forged =
            #"{"holder": "forged", "expiration": null, "host": "\#(ProcessIdentity.current.hostName)", "pid": 1, "flow_run_id": "forged"}"#
        try LockFiles.replace(path: "\(directory)/forged.lock", bytes: Array(forged.utf8))
        XCTAssertEqual(chown("\(directory)/forged.lock", 65534, 65534), 0)
        let listed = try locktop(["list", "--dir", directory, "--json"])
        let document = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(listed.standardOutput.utf8)) as? [String: Any])
        let lock = try XCTUnwrap((document["locks"] as? [[String: Any]])?.first)
        XCTAssertEqual(lock["verdict"] as? String, "held_unknown", "never 'held, holder pid 1 is alive': \(lock)")
        XCTAssertEqual(lock["reason"] as? String, "the lock file of uid 65534 names pid 1 of uid 0; not believed")
        // Root's own file may name any process.
        XCTAssertEqual(chown("\(directory)/forged.lock", 0, 0), 0)
        let own = try locktop(["list", "--dir", directory, "--json"])
        XCTAssertTrue(own.standardOutput.contains(#""reason": "holder pid 1 is alive""#), own.standardOutput)
    }

    func testNothingIsBrokenWhereAnotherUidMayRenameTheDirectoryUnlessTheOperatorSaysSo() throws {
        try PrefectWorkers.requireRoot()
        // A shared tree: /tmp/X (mode 777, not sticky) holds the records a worker made.
        let shared = TestSupport.temporaryDirectory(for: self)
        XCTAssertEqual(chmod(shared, 0o777), 0)
        let records = "\(shared)/records"
        try FileManager.default.createDirectory(atPath: records, withIntermediateDirectories: false)
        let content = LockFileContent(
            holder: "\(ProcessIdentity.current.hostName):\(TestSupport.goneProcessID()):1:T", expiration: nil)
        try LockFiles.replace(path: "\(records)/dead.lock", bytes: content.encoded())
        let refused = try locktop(["break", "--dir", records, "--stale"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(
            refused.standardError.contains(
                "refusing to act: \(shared) lets others rename \(records): others may write it (mode 777), and it is not sticky; --allow-untrusted-parent overrides"
            ),
            refused.standardError)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(records)/dead.lock"))
        let listed = try locktop(["list", "--dir", records])
        XCTAssertEqual(listed.status, 0, "reading stays allowed")
        XCTAssertTrue(listed.standardError.contains("warning: \(shared) lets others rename"), listed.standardError)
        // Sticky, as /tmp is: then the directory's owner is who may rename it.
        XCTAssertEqual(chmod(shared, 0o1777), 0)
        XCTAssertEqual(chown(records, 65534, 65534), 0)
        let sticky = try locktop(["break", "--dir", records, "--stale"])
        XCTAssertTrue(
            sticky.standardError.contains(
                "\(records) is owned by uid 65534, who may rename it in the sticky \(shared)"),
            sticky.standardError)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(records)/dead.lock"))
        let allowed = try locktop(["break", "--dir", records, "--stale", "--allow-untrusted-parent"])
        XCTAssertEqual(allowed.status, 0, allowed.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(records)/dead.lock"))
    }

    func testHostileLockFilesCostBoundedMemoryAndAHugeOneIsBrokenByItsStatus() throws {
        // 2,000 lock files of 64 KiB: the previous release kept each whole (284 MB in events).
        let blob = Data(
            ("{\"holder\": \"" + String(repeating: "A", count: 64 * 1024 - 40) + "\", \"expiration\": null}").utf8)
        for index in 0..<2000 {
            XCTAssertTrue(FileManager.default.createFile(atPath: "\(directory)/h\(index).lock", contents: blob))
        }
        let events = try TestSupport.start(
            TestSupport.executable("locktop"), ["events", "--dir", directory, "--no-fanotify"],
            environment: ["XDG_STATE_HOME": state])
        defer {
            events.signal(SIGTERM)
            _ = events.wait(timeout: 10)
        }
        usleep(2_000_000)
        let peak = try XCTUnwrap(
            TestSupport.memoryKiB("VmHWM", ofProcess: String(events.process.processIdentifier)))
        XCTAssertLessThan(peak, 100 * 1024, "a lock file is read up to 4 KiB: peak \(peak) KiB")
        // A 10 GB sparse lock file: judged by inode, size and time, and broken with --force.
        let huge = "\(directory)/huge.lock"
        XCTAssertTrue(FileManager.default.createFile(atPath: huge, contents: nil))
        XCTAssertEqual(truncate(huge, 10 << 30), 0)
        let refused = try locktop(["release", "--dir", directory, "huge"])
        XCTAssertEqual(refused.status, 3, "unreadable: only --force breaks it")
        let forced = try locktop(["release", "--dir", directory, "huge", "--force"])
        XCTAssertEqual(forced.status, 0, forced.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: huge))
    }

    func testALockWhoseNameNeedsEscapingStaysWatched() throws {
        let events = try TestSupport.start(
            TestSupport.executable("locktop"), ["events", "--dir", directory, "--json", "--no-fanotify"],
            environment: ["XDG_STATE_HOME": state])
        defer {
            events.signal(SIGTERM)
            _ = events.wait(timeout: 10)
        }
        usleep(400_000)
        // A name with an escape sequence, and one that is not UTF-8 at all.
        let names: [[UInt8]] = [Array("evil\u{1b}[2J.lock".utf8), [0x62, 0x61, 0x64, 0xFF] + Array(".lock".utf8)]
        for name in names {
            let path = Array(directory.utf8) + [0x2F] + name + [0]
            let fd = path.withUnsafeBufferPointer {
                open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_WRONLY | O_CREAT, 0o644)
            }
            XCTAssertGreaterThanOrEqual(fd, 0)
            _ = Array(#"{"holder": "x", "expiration": null}"#.utf8).withUnsafeBytes {
                write(fd, $0.baseAddress, $0.count)
            }
            close(fd)
        }
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) {
                events.standardOutput.contains(#""type": "unreadable", "key": "evil\\x1B[2J""#)
                    && events.standardOutput.contains(#""type": "unreadable", "key": "bad\\xFF""#)
            }, "each is watched, as list shows it, and judged by its name alone: \(events.standardOutput)")
        XCTAssertFalse(
            events.standardOutput.contains(#""type": "released""#), "neither vanished: \(events.standardOutput)")
    }
}
