import Foundation
import LocktopTestSupport
import Synchronization
import XCTest

@testable import RecordStore

final class FileSystemRecordStoreTests: XCTestCase {
    var directory = ""
    var clock = TestClock()

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
        clock = TestClock(Date())
    }

    func makeStore(fallbackPollInterval: TimeInterval = 1) -> FileSystemRecordStore {
        let clock = self.clock
        let environment = StoreEnvironment(now: { clock.now }, process: .current)
        return FileSystemRecordStore(
            recordsDirectory: URL(fileURLWithPath: directory), environment: environment,
            fallbackPollInterval: fallbackPollInterval)
    }

    func contents(_ name: String) -> String? {
        try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)
    }

    func testAcquireWritesPrefectReadableLockAndReleaseRemovesIt() throws {
        let store = makeStore()
        XCTAssertTrue(try store.acquireLock(key: "task.b", holder: "me", holdTimeout: 30))
        let text = try XCTUnwrap(contents("task.lock"))
        XCTAssertTrue(text.hasPrefix(#"{"holder": "me", "expiration": ""#), text)
        XCTAssertTrue(store.isLocked(key: "task.b"))
        XCTAssertTrue(store.isLocked(key: "task.c"), "task.b and task.c share task.lock")
        XCTAssertTrue(store.isLockHolder(key: "task.b", holder: "me"))
        XCTAssertFalse(store.isLockHolder(key: "task.b", holder: "you"))
        try store.releaseLock(key: "task.b", holder: "me")
        XCTAssertNil(contents("task.lock"))
        XCTAssertFalse(store.isLocked(key: "task.b"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory)
        XCTAssertEqual(leftovers, [], "no temporary or aside files remain")
    }

    func testDefaultHolderIsUsedWhenNoneIsGiven() throws {
        let store = makeStore()
        XCTAssertTrue(try store.acquireLock(key: "k"))
        let content = try XCTUnwrap(LockFileContent(parsing: Array(try XCTUnwrap(contents("k.lock")).utf8)))
        XCTAssertEqual(content.holder, FileSystemRecordStore.defaultHolder())
        XCTAssertEqual(content.processID, getpid())
        XCTAssertNil(content.expiration)
        XCTAssertTrue(store.isLockHolder(key: "k"))
        try store.releaseLock(key: "k")
    }

    func testReacquiringOwnLockRenewsItAtomically() throws {
        let store = makeStore()
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "me", holdTimeout: 5))
        clock.advance(by: 3)
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "me", acquireTimeout: 0, holdTimeout: 5))
        let content = try XCTUnwrap(LockFileContent(parsing: Array(try XCTUnwrap(contents("k.lock")).utf8)))
        XCTAssertEqual(try XCTUnwrap(content.expiration).timeIntervalSince(clock.now), 5, accuracy: 0.01)
        try store.releaseLock(key: "k", holder: "me")
    }

    func testAnotherHolderTimesOutUntilRelease() throws {
        let store = makeStore()
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "a"))
        XCTAssertFalse(try store.acquireLock(key: "k", holder: "b", acquireTimeout: 0))
        XCTAssertFalse(try store.acquireLock(key: "k", holder: "b", acquireTimeout: 0.2))
        try store.releaseLock(key: "k", holder: "a")
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "b", acquireTimeout: 0))
    }

    func testExpiredLockIsJudgedByInjectedClockAndTakenOver() throws {
        let store = makeStore()
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "a", holdTimeout: 60))
        XCTAssertFalse(try store.acquireLock(key: "k", holder: "b", acquireTimeout: 0))
        clock.advance(by: 61)
        XCTAssertFalse(store.isLocked(key: "k"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/k.lock"), "judging never deletes")
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "b", acquireTimeout: 0))
        XCTAssertTrue(store.isLockHolder(key: "k", holder: "b"))
    }

    func testReleaseIsCompareAndDelete() throws {
        let store = makeStore()
        XCTAssertThrowsError(try store.releaseLock(key: "k", holder: "a")) { error in
            XCTAssertEqual(error as? RecordStoreError, .noLock(key: "k"))
        }
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "a"))
        XCTAssertThrowsError(try store.releaseLock(key: "k", holder: "b")) { error in
            XCTAssertEqual(error as? RecordStoreError, .notLockHolder(key: "k", holder: "b", actualHolder: "a"))
        }
        XCTAssertNotNil(contents("k.lock"), "someone else's lock is untouched")
        let other = makeStore()
        try other.releaseLock(key: "k", holder: "a")
        XCTAssertNil(contents("k.lock"))
    }

    func testReleaseAfterOurLockWasReplacedLeavesTheNewLock() throws {
        let store = makeStore()
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "a"))
        try FileManager.default.removeItem(atPath: "\(directory)/k.lock")
        XCTAssertTrue(try makeStore().acquireLock(key: "k", holder: "b"))
        XCTAssertThrowsError(try store.releaseLock(key: "k", holder: "a"))
        XCTAssertEqual(try LockFileContent(parsing: Array(XCTUnwrap(contents("k.lock")).utf8))?.holder, "b")
    }

    func testSafeBreakPutsBackALockThatChangedAfterJudgement() throws {
        let store = makeStore()
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "old", holdTimeout: 1))
        let path = "\(directory)/k.lock"
        XCTAssertThrowsError(
            try store.breakLock(key: "k") { _ in
                try LockFiles.replace(path: path, bytes: LockFileContent(holder: "new", expiration: nil).encoded())
            }
        ) { error in
            XCTAssertEqual(error as? RecordStoreError, .lockChanged(key: "k"))
        }
        XCTAssertEqual(try LockFileContent(parsing: Array(XCTUnwrap(contents("k.lock")).utf8))?.holder, "new")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["k.lock"])
        let removed = try store.breakLock(key: "k") { _ in }
        XCTAssertNotNil(removed)
        XCTAssertNil(contents("k.lock"))
    }

    func testAsideNamesCannotBeTakenFirstAndNothingThereIsReplaced() throws {
        // Another uid that may write the directory pre-creates the names a break would have used
        // (`.locktop-PID-1.break` and on): directories, which a rename cannot replace, and a file.
        let pid = ProcessIdentity.current.processID
        for serial in 1...300 {
            try FileManager.default.createDirectory(
                atPath: "\(directory)/.locktop-\(pid)-\(serial).break", withIntermediateDirectories: false)
        }
        let decoy = "\(directory)/.locktop-\(pid)-301.break"
        XCTAssertTrue(FileManager.default.createFile(atPath: decoy, contents: Data("theirs".utf8)))
        let store = makeStore()
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "old", holdTimeout: 1))
        XCTAssertNotNil(try store.breakLock(key: "k") { _ in }, "the break goes through")
        XCTAssertNil(contents("k.lock"))
        XCTAssertEqual(try String(contentsOfFile: decoy, encoding: .utf8), "theirs")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        XCTAssertEqual(names.count, 301, "nothing of ours is left behind, nothing of theirs is gone")
    }

    func testEmptyLockFileIsBeingWrittenThenUnreadable() throws {
        let store = makeStore()
        FileManager.default.createFile(atPath: "\(directory)/k.lock", contents: Data())
        guard case .beingWritten = try store.observeLock(key: "k") else { return XCTFail("expected beingWritten") }
        XCTAssertTrue(store.isLocked(key: "k"))
        XCTAssertFalse(try store.acquireLock(key: "k", holder: "b", acquireTimeout: 0.1))
        clock.advance(by: 10)
        guard case .unreadable = try store.observeLock(key: "k") else { return XCTFail("expected unreadable") }
        FileManager.default.createFile(atPath: "\(directory)/g.lock", contents: Data("{\"holder\": ".utf8))
        clock.advance(by: 10)
        guard case .unreadable = try store.observeLock(key: "g") else { return XCTFail("expected unreadable") }
        XCTAssertThrowsError(try store.releaseLock(key: "g", holder: "b"))
        XCTAssertNotNil(contents("g.lock"))
    }

    func testHugeLockFileIsUnreadableNotLoaded() throws {
        let store = makeStore()
        FileManager.default.createFile(atPath: "\(directory)/big.lock", contents: Data(count: 10 * 1024 * 1024))
        clock.advance(by: 10)
        guard case .unreadable(let status, let bytes) = try store.observeLock(key: "big") else { return XCTFail() }
        XCTAssertEqual(status.size, 10 * 1024 * 1024)
        XCTAssertEqual(bytes, [])
    }

    func testWaitForLockWakesOnInotifyNotPolling() throws {
        let store = makeStore(fallbackPollInterval: 60)
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "a"))
        let releaser = Thread {
            usleep(300_000)
            try? store.releaseLock(key: "k", holder: "a")
        }
        releaser.start()
        let start = MonotonicClock.seconds()
        XCTAssertTrue(store.waitForLock(key: "k", timeout: 20))
        XCTAssertLessThan(MonotonicClock.seconds() - start, 10, "woken by the release, not the 60 s fallback poll")
        XCTAssertFalse(store.isLocked(key: "k"))
    }

    func testBlockingAcquireWakesWhenReleased() throws {
        let store = makeStore(fallbackPollInterval: 60)
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "a"))
        let releaser = Thread {
            usleep(200_000)
            try? store.releaseLock(key: "k", holder: "a")
        }
        releaser.start()
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "b", acquireTimeout: 20))
        XCTAssertTrue(store.isLockHolder(key: "k", holder: "b"))
    }

    /// The inotify descriptors this process has open.
    func inotifyDescriptors() -> Int {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return descriptors.filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) == "anon_inode:inotify"
        }.count
    }

    func testWaitsShareOneWatchAndNeverOpenOrCloseADescriptorOnTheAcquirePath() throws {
        let store = makeStore(fallbackPollInterval: 60)
        let before = inotifyDescriptors()
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "a"))
        XCTAssertEqual(inotifyDescriptors(), before, "an uncontended acquire watches nothing")
        for _ in 0..<5 { XCTAssertFalse(try store.acquireLock(key: "k", holder: "b", acquireTimeout: 0.02)) }
        XCTAssertFalse(store.waitForLock(key: "k", timeout: 0.02))
        XCTAssertEqual(inotifyDescriptors(), before + 1, "one watch for the store, kept across waits")
    }

    func testTwoThreadsWaitingOnTheSharedWatchAreEachWokenByTheirOwnRelease() throws {
        let store = makeStore(fallbackPollInterval: 60)
        XCTAssertTrue(try store.acquireLock(key: "first", holder: "a"))
        XCTAssertTrue(try store.acquireLock(key: "second", holder: "a"))
        let woken = Mutex<[String: Double]>([:])
        let threads = ["first", "second"].map { key in
            Thread {
                if (try? store.acquireLock(key: key, holder: "b", acquireTimeout: 20)) == true {
                    woken.withLock { $0[key] = MonotonicClock.seconds() }
                }
            }
        }
        for thread in threads { thread.start() }
        usleep(200_000)
        var released: [String: Double] = [:]
        for key in ["second", "first"] {
            released[key] = MonotonicClock.seconds()
            try store.releaseLock(key: key, holder: "a")
            usleep(300_000)
        }
        XCTAssertTrue(TestSupport.eventually { woken.withLock { $0.count } == 2 })
        for key in ["first", "second"] {
            let delay = try XCTUnwrap(woken.withLock { $0[key] }) - released[key]!
            XCTAssertLessThan(delay, 0.25, "\(key) woke \(delay) s after its release, not by the 60 s fallback")
        }
    }

    func testWaitForLockTimesOut() throws {
        let store = makeStore()
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "a"))
        XCTAssertFalse(store.waitForLock(key: "k", timeout: 0.2))
        XCTAssertTrue(store.waitForLock(key: "other", timeout: 0))
    }

    func testRecordsAreWrittenAtomicallyAndReadBack() throws {
        let store = makeStore()
        XCTAssertFalse(store.exists(key: "r"))
        XCTAssertNil(try store.read(key: "r"))
        let json = Data(#"{"type":"reference","serializer_type":"pickle","storage_key":"abc"}"#.utf8)
        try store.write(key: "r", result: json)
        XCTAssertTrue(store.exists(key: "r"))
        XCTAssertEqual(try store.read(key: "r"), TransactionRecord(key: "r", result: json))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["r"])
        XCTAssertThrowsError(try store.write(key: "r", result: Data("not json".utf8))) { error in
            XCTAssertEqual(error as? RecordStoreError, .invalidRecordJSON(key: "r"))
        }
        XCTAssertEqual(try store.read(key: "r")?.result, json, "a refused write leaves the record as it was")
    }

    func testWriteIsRefusedWhileAnotherHolderHasTheLock() throws {
        let store = makeStore()
        XCTAssertTrue(try store.acquireLock(key: "r", holder: "a"))
        XCTAssertThrowsError(try store.write(key: "r", result: Data("{}".utf8), holder: "b")) { error in
            XCTAssertEqual(error as? RecordStoreError, .lockedByAnotherHolder(key: "r", holder: "a"))
        }
        try store.write(key: "r", result: Data("{}".utf8), holder: "a")
        XCTAssertEqual(try store.read(key: "r", holder: "a")?.result, Data("{}".utf8))
    }

    func testReadWaitsForAnotherHoldersLock() throws {
        let store = makeStore(fallbackPollInterval: 60)
        try store.write(key: "r", result: Data("{}".utf8))
        XCTAssertTrue(try store.acquireLock(key: "r", holder: "a"))
        let releaser = Thread {
            usleep(200_000)
            try? store.releaseLock(key: "r", holder: "a")
        }
        releaser.start()
        XCTAssertEqual(try store.read(key: "r", holder: "b")?.result, Data("{}".utf8))
        XCTAssertFalse(store.isLocked(key: "r"))
    }

    func testSymlinkedRecordIsRefused() throws {
        let store = makeStore()
        let outside = TestSupport.temporaryDirectory(for: self) + "/secret"
        try Data("{}".utf8).write(to: URL(fileURLWithPath: outside))
        try FileManager.default.createSymbolicLink(atPath: "\(directory)/r", withDestinationPath: outside)
        XCTAssertThrowsError(try store.read(key: "r")) { error in
            XCTAssertEqual(error as? RecordStoreError, .symbolicLink(path: "\(directory)/r"))
        }
    }

    func testSymlinkedLockIsNeverFollowed() throws {
        let store = makeStore()
        let outside = TestSupport.temporaryDirectory(for: self) + "/target.lock"
        try Data(#"{"holder": "a", "expiration": null}"#.utf8).write(to: URL(fileURLWithPath: outside))
        try FileManager.default.createSymbolicLink(atPath: "\(directory)/k.lock", withDestinationPath: outside)
        XCTAssertThrowsError(try store.observeLock(key: "k")) { error in
            XCTAssertEqual(error as? RecordStoreError, .symbolicLink(path: "\(directory)/k.lock"))
        }
        XCTAssertThrowsError(try store.releaseLock(key: "k", holder: "a"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: outside))
    }

    func testBadKeysTouchNothing() throws {
        let store = makeStore()
        for key in ["../escape", "/abs", "a/b", "..", ""] {
            XCTAssertThrowsError(try store.acquireLock(key: key, holder: "a"), key)
            XCTAssertThrowsError(try store.write(key: key, result: Data("{}".utf8)), key)
            XCTAssertFalse(store.exists(key: key))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
    }

    func testMissingDirectoryIsCreatedOnAcquireAndFileInTheWayIsATypedError() throws {
        let nested = URL(fileURLWithPath: "\(directory)/a/b/records")
        let store = FileSystemRecordStore(recordsDirectory: nested)
        XCTAssertNil(try store.read(key: "k"))
        XCTAssertTrue(try store.acquireLock(key: "k", holder: "a"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: nested.path + "/k.lock"))
        FileManager.default.createFile(atPath: "\(directory)/file", contents: Data())
        let blocked = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: "\(directory)/file/records"))
        XCTAssertThrowsError(try blocked.acquireLock(key: "k", holder: "a")) { error in
            XCTAssertEqual(error as? RecordStoreError, .notADirectory(path: "\(directory)/file"))
        }
        XCTAssertThrowsError(try blocked.write(key: "k", result: Data("{}".utf8)))
    }

    func testSeparateLocksDirectoryHoldsTheLocksAndTheRecordsStayInTheirs() throws {
        let records = URL(fileURLWithPath: "\(directory)/records")
        let locks = URL(fileURLWithPath: "\(directory)/locks")
        let store = FileSystemRecordStore(recordsDirectory: records, locksDirectory: locks)
        XCTAssertEqual(try store.lockPath(forKey: "task.b"), "\(directory)/locks/task.lock")
        XCTAssertEqual(try store.recordPath(forKey: "task.b"), "\(directory)/records/task.b")
        XCTAssertTrue(try store.acquireLock(key: "task.b", holder: "me"), "the locks directory is made on demand")
        try store.write(key: "task.b", result: Data(#"{"v": 1}"#.utf8), holder: "me")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: locks.path), ["task.lock"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: records.path), ["task.b"])
        XCTAssertThrowsError(
            try store.write(key: "task.c", result: Data("{}".utf8), holder: "you"),
            "task.c shares task.lock in the locks directory")
        try store.releaseLock(key: "task.b", holder: "me")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: locks.path), [])
        XCTAssertEqual(try store.read(key: "task.b", holder: "you")?.result, Data(#"{"v": 1}"#.utf8))
    }

}
