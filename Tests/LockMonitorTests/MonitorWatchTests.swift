import Foundation
import LockReports
import LocktopTestSupport
import XCTest

@testable import LockMonitor
@testable import RecordStore

/// The monitor against a real directory, with real inotify.
final class MonitorWatchTests: XCTestCase {
    var directory = ""
    var clock = TestClock()

    override func setUp() {
        directory = TestSupport.temporaryDirectory(for: self)
        clock = TestClock(Date())
    }

    func makeMonitor(poll: TimeInterval? = nil) throws -> LockMonitor {
        let clock = self.clock
        let live = MonitorEnvironment.live
        let environment = MonitorEnvironment(
            now: { clock.now }, hostName: live.hostName, processStartTicks: live.processStartTicks)
        return try LockMonitor(
            configuration: .init(recordsDirectory: directory, forcedPollInterval: poll), environment: environment)
    }

    func writeLock(_ name: String, holder: String, expiration: Date? = nil) throws {
        try LockFiles.replace(
            path: "\(directory)/\(name)", bytes: LockFileContent(holder: holder, expiration: expiration).encoded())
    }

    /// Waits for inotify to deliver events and returns what the monitor made of them.
    func events(from monitor: LockMonitor, until predicate: ([MonitorEvent]) -> Bool) -> [MonitorEvent] {
        var collected: [MonitorEvent] = []
        _ = TestSupport.eventually(timeout: 5) {
            collected += monitor.processChanges()
            return predicate(collected)
        }
        return collected
    }

    func testScanMapsRecordsToSharedLocksAndIgnoresPrivateFiles() throws {
        for key in ["task.b", "task.c", "a-1", "plain"] {
            try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(directory)/\(key)"))
        }
        try writeLock("task.lock", holder: "h")
        try writeLock("a-1.lock", holder: "h")
        try Data().write(to: URL(fileURLWithPath: "\(directory)/.locktop-1-2.tmp"))
        let snapshot = try DirectorySnapshot.scan(
            records: DirectoryHandle.open(directory), locks: DirectoryHandle.open(directory))
        XCTAssertEqual(snapshot.records.keys.sorted(), ["a-1", "plain", "task.b", "task.c"])
        XCTAssertEqual(snapshot.locks.keys.sorted(), ["a-1.lock", "task.lock"])
        XCTAssertEqual(snapshot.recordKeys(forLock: "task.lock"), ["task.b", "task.c"])
        XCTAssertTrue(snapshot.isShared("task.lock"))
        XCTAssertFalse(snapshot.isShared("a-1.lock"))
        XCTAssertEqual(snapshot.unlockedRecordKeys, ["plain"])
    }

    func testNonUtf8NamesAreListedEscaped() throws {
        let raw: [UInt8] = Array("bad-".utf8) + [0xFF, 0xFE]
        let path = Array(directory.utf8) + [UInt8(ascii: "/")] + raw + [0]
        let fd = path.withUnsafeBufferPointer {
            open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644)
        }
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        let snapshot = try DirectorySnapshot.scan(
            records: DirectoryHandle.open(directory), locks: DirectoryHandle.open(directory))
        XCTAssertEqual(snapshot.records.keys.sorted(), ["bad-\\xFF\\xFE"])
        XCTAssertEqual(snapshot.records["bad-\\xFF\\xFE"]?.nameIsEscaped, true)
    }

    func testCreateReplaceRenewDeleteBecomeEvents() throws {
        let monitor = try makeMonitor()
        try writeLock("k.lock", holder: "alpha")
        var seen = events(from: monitor) { $0.contains { $0.kind == .acquired } }
        XCTAssertEqual(seen.map(\.kind), [.acquired])
        XCTAssertEqual(seen.first?.holder, "alpha")
        XCTAssertEqual(seen.first?.key, "k")
        try writeLock("k.lock", holder: "beta")
        seen = events(from: monitor) { $0.contains { $0.kind == .acquired } }
        XCTAssertEqual(seen.map(\.kind), [.released, .acquired])
        XCTAssertEqual(seen.last?.holder, "beta")
        try writeLock("k.lock", holder: "beta", expiration: clock.now.addingTimeInterval(60))
        seen = events(from: monitor) { !$0.isEmpty }
        XCTAssertEqual(seen.map(\.kind), [.changed])
        try FileManager.default.removeItem(atPath: "\(directory)/k.lock")
        seen = events(from: monitor) { !$0.isEmpty }
        XCTAssertEqual(seen.map(\.kind), [.released])
        XCTAssertEqual(seen.first?.previousHolder, "beta")
        XCTAssertNil(monitor.snapshot.locks["k.lock"])
        let stats = monitor.statistics(forLock: "k.lock")
        XCTAssertEqual(stats.acquisitions, 2)
        XCTAssertEqual(stats.handOffs, 1)
        XCTAssertEqual(stats.completedHolds, 2)
        XCTAssertEqual(monitor.scanCount, 1, "every change was applied without a rescan")
    }

    func testPrefectStyleTouchThenWriteIsOneAcquisition() throws {
        let monitor = try makeMonitor()
        let path = "\(directory)/k.lock"
        FileManager.default.createFile(atPath: path, contents: Data())
        usleep(20_000)
        _ = monitor.processChanges()
        XCTAssertNil(monitor.snapshot.locks["k.lock"]?.content)
        XCTAssertEqual(monitor.classification(of: try XCTUnwrap(monitor.snapshot.locks["k.lock"])).state, .writing)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        handle.write(Data(#"{"holder":"uuid-1","expiration":null}"#.utf8))
        try handle.close()
        let seen = events(from: monitor) { !$0.isEmpty }
        XCTAssertEqual(seen.map(\.kind), [.acquired])
        XCTAssertEqual(monitor.statistics(forLock: "k.lock").acquisitions, 1)
    }

    func testRecordsAreTrackedIncrementally() throws {
        let monitor = try makeMonitor()
        try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(directory)/r1"))
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) {
                _ = monitor.processChanges()
                return monitor.snapshot.records["r1"] != nil
            })
        try FileManager.default.removeItem(atPath: "\(directory)/r1")
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) {
                _ = monitor.processChanges()
                return monitor.snapshot.records["r1"] == nil
            })
        XCTAssertEqual(monitor.scanCount, 1)
    }

    func testExpirationIsAnnouncedOnceWhenTheClockPassesIt() throws {
        try writeLock("k.lock", holder: "alpha", expiration: clock.now.addingTimeInterval(30))
        let monitor = try makeMonitor()
        XCTAssertEqual(monitor.tick().map(\.kind), [])
        clock.advance(by: 31)
        let seen = monitor.tick()
        XCTAssertEqual(seen.map(\.kind), [.expired])
        XCTAssertEqual(monitor.classification(of: try XCTUnwrap(monitor.snapshot.locks["k.lock"])).state, .expired)
        XCTAssertEqual(monitor.tick().map(\.kind), [])
    }

    func testQueueOverflowTriggersARescan() throws {
        let monitor = try makeMonitor()
        try writeLock("k.lock", holder: "alpha")
        for index in 0..<7000 {
            FileManager.default.createFile(atPath: "\(directory)/r\(index)", contents: Data("{}".utf8))
        }
        let seen = events(from: monitor) { $0.contains { $0.kind == .rescanned } }
        XCTAssertTrue(seen.contains { $0.kind == .rescanned })
        XCTAssertTrue(seen.contains { $0.kind == .acquired && $0.key == "k" })
        XCTAssertEqual(monitor.snapshot.records.count, 7000)
        XCTAssertEqual(monitor.scanCount, 2)
    }

    func testAnEventOfASharedLockFileNamesItsRecordsAsTheDashboardDoes() throws {
        for key in ["orders.extract", "orders.load"] {
            FileManager.default.createFile(atPath: "\(directory)/\(key)", contents: Data("{}".utf8))
        }
        let monitor = try makeMonitor()
        // The records listed at start are indexed behind the first screen; the event names them once they are.
        XCTAssertTrue(
            TestSupport.eventually {
                _ = monitor.tick()
                return !monitor.isLoadingRecords
            })
        try writeLock("orders.lock", holder: "w")
        let seen = events(from: monitor) { $0.contains { $0.kind == .acquired } }
        let acquired = try XCTUnwrap(seen.first { $0.kind == .acquired })
        XCTAssertEqual(acquired.key, "orders", "the JSON key stays the lock's stem")
        XCTAssertEqual(acquired.records, ["orders.extract", "orders.load"])
        XCTAssertTrue(
            Reports.eventText(acquired).contains(" orders.extract,orders.load  by w"), Reports.eventText(acquired))
    }

    func testDirectoryRemovedAndRecreated() throws {
        let monitor = try makeMonitor()
        let named = try DirectoryHandle.open(directory).key
        try writeLock("k.lock", holder: "alpha")
        _ = events(from: monitor) { !$0.isEmpty }
        try FileManager.default.removeItem(atPath: directory)
        let lost = events(from: monitor) { $0.contains { $0.kind == .directoryMissing } }
        XCTAssertTrue(lost.contains { $0.kind == .directoryMissing })
        XCTAssertEqual(monitor.missingDirectories, [directory])
        XCTAssertEqual(monitor.tick().map(\.kind), [])
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writeLock("again.lock", holder: "beta")
        let back = monitor.tick()
        // A new directory at the path is not the one opened: watched, but no break goes through there.
        XCTAssertEqual(back.map(\.kind), [.directoryReplaced, .acquired])
        XCTAssertEqual(back.first?.replacement?.old, named)
        XCTAssertNotEqual(back.first?.replacement?.new, named)
        XCTAssertEqual(monitor.missingDirectories, [])
        XCTAssertTrue(
            monitor.trustNotice?.contains("breaks are refused there") == true,
            "\(String(describing: monitor.trustNotice))")
        let breaker = LockBreaker(auditLog: AuditLog(path: "\(directory)/../audit-\(getpid()).log"), operatorName: "t")
        XCTAssertThrowsError(try monitor.breakLock(named: "again.lock", authority: .forced, breaker: breaker)) {
            error in
            guard case .directoryReplaced? = error as? LockOperationError else { return XCTFail("\(error)") }
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(directory)/again.lock"))
        try writeLock("third.lock", holder: "gamma")
        let later = events(from: monitor) { !$0.isEmpty }
        XCTAssertEqual(later.map(\.key), ["third"], "the new directory is watched")
    }

    func testADirectoryThatDoesNotExistYetIsWaitedFor() throws {
        try FileManager.default.removeItem(atPath: directory)
        let monitor = try makeMonitor()
        XCTAssertEqual(monitor.missingDirectories, [directory])
        let waiting = monitor.tick()
        XCTAssertEqual(waiting.map(\.kind), [.directoryMissing])
        XCTAssertEqual(waiting.first?.detail, "\(directory) does not exist; waiting for it")
        XCTAssertEqual(monitor.tick().map(\.kind), [])
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writeLock("first.lock", holder: "alpha")
        XCTAssertEqual(monitor.tick().map(\.kind), [.directoryRestored, .acquired])
        try writeLock("second.lock", holder: "beta")
        XCTAssertEqual(events(from: monitor) { !$0.isEmpty }.map(\.key), ["second"], "the new directory is watched")
    }

    func testFanotifyMarksALocksDirectoryThatCameLaterAndAgainWhenItCameBack() throws {
        guard getuid() == 0 else {
            if TestSupport.isCI { XCTFail("CI runs as root, which fanotify needs") }
            throw XCTSkip("fanotify needs root")
        }
        try FileManager.default.removeItem(atPath: directory)
        let monitor = try makeMonitor()
        XCTAssertNil(monitor.identityDescriptor, "nothing to mark yet")
        XCTAssertNil(monitor.identityNotice, "a missing directory is waited for, not a fanotify failure")
        /// A process that writes the lock file `name` and stays alive; the monitor must name it as the creator.
        func assertCreatorIsSeen(_ name: String) throws {
            let writer = try TestSupport.start(
                "/bin/sh",
                [
                    "-c", #"printf '{"holder": "u", "expiration": null}' > "$0"; exec sleep 30"#,
                    "\(directory)/\(name)",
                ])
            defer {
                writer.signal(SIGKILL)
                _ = writer.wait(timeout: 10)
            }
            XCTAssertTrue(
                TestSupport.eventually(timeout: 5) {
                    _ = monitor.processChanges()
                    guard let lock = monitor.snapshot.locks[name] else { return false }
                    return monitor.identity(of: lock, lookingUpNamedProcess: false).holderProcess?.processID
                        == writer.process.processIdentifier
                }, "fanotify names the writer of \(name)")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        XCTAssertEqual(monitor.tick().map(\.kind), [.directoryMissing, .directoryRestored])
        XCTAssertNotNil(monitor.identityDescriptor)
        try assertCreatorIsSeen("first.lock")
        try FileManager.default.removeItem(atPath: directory)
        _ = events(from: monitor) { $0.contains { $0.kind == .directoryMissing } }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        XCTAssertEqual(monitor.tick().map(\.kind), [.directoryReplaced], "another directory, still watched")
        try assertCreatorIsSeen("second.lock")
    }

    func testAWriterGoneBeforeItsWriteIsReadIsStaleWhenOnlyTheOwnerMayWriteTheFile() throws {
        guard getuid() == 0 else {
            if TestSupport.isCI { XCTFail("CI runs as root, which fanotify needs") }
            throw XCTSkip("fanotify needs root")
        }
        let monitor = try makeMonitor()
        XCTAssertNotNil(monitor.identityDescriptor)
        // Writes a uuid4 lock as Prefect 3.9.1 does (touch, then write) under `umask`, and is reaped
        // before the monitor reads a thing.
        func writeAndExit(_ name: String, umask: String) throws -> Int32 {
            let writer = try TestSupport.start(
                "/bin/sh",
                [
                    "-c",
                    #"umask $1; : > "$0"; printf '{"holder":"9d87db93-4b04-4bf0-90ec-0d6f20a226f9","expiration":null}' > "$0""#,
                    "\(directory)/\(name)", umask,
                ])
            XCTAssertEqual(writer.wait(timeout: 10).status, 0)
            return writer.process.processIdentifier
        }
        let writer = try writeAndExit("gone.lock", umask: "022")
        _ = try writeAndExit("shared.lock", umask: "002")
        XCTAssertTrue(
            TestSupport.eventually(timeout: 5) {
                _ = monitor.processChanges()
                return monitor.snapshot.locks["gone.lock"] != nil && monitor.snapshot.locks["shared.lock"] != nil
            })
        let gone = try XCTUnwrap(monitor.snapshot.locks["gone.lock"])
        XCTAssertEqual(
            monitor.identity(of: gone, lookingUpNamedProcess: false).holderProcess.map {
                [$0.processID == writer, $0.exitedBeforeSeen]
            }, [true, true], "fanotify's pidfd said the writer had exited")
        let verdict = monitor.classification(of: gone)
        XCTAssertEqual(
            [verdict.state.rawValue, verdict.reason],
            ["stale", "holder pid \(writer) died: it had exited when its write of the lock was read"])
        let shared = try XCTUnwrap(monitor.snapshot.locks["shared.lock"])
        XCTAssertNil(
            monitor.identity(of: shared, lookingUpNamedProcess: false).holderProcess,
            "a file its group may write: the gone writer's right to it cannot be checked")
        XCTAssertEqual(monitor.classification(of: shared).state, .held)
    }

    func testPollingFindsANewNameAtTheNextTickAndAnInPlaceRewriteAtTheInterval() throws {
        try writeLock("old.lock", holder: "alpha")
        let monitor = try makeMonitor(poll: 2)
        XCTAssertNil(monitor.fileDescriptor)
        XCTAssertEqual(monitor.watchMode, .polling(interval: 2))
        XCTAssertEqual(monitor.tick().map(\.kind), [], "nothing moved")
        try writeLock("k.lock", holder: "alpha")
        XCTAssertEqual(monitor.tick().map(\.kind), [.acquired], "the directory's stamp moved: polled at once")
        clock.advance(by: 11)
        _ = monitor.tick()
        // Rewritten in place, as Prefect's writers do: the directory's stamp stays.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(directory)/old.lock"))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: LockFileContent(holder: "beta", expiration: nil).encoded())
        try handle.close()
        XCTAssertEqual(monitor.tick().map(\.kind), [], "an in-place rewrite waits for the interval")
        var found: [MonitorEvent.Kind] = []
        for _ in 0..<5 {
            clock.advance(by: 2)
            found += monitor.tick().map(\.kind)
        }
        XCTAssertEqual(found, [.released, .acquired], "the lock slices find it within lockPeriod")
    }

    func testPollingAppliesWhatChangedWithoutRescanning() throws {
        try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(directory)/result"))
        try writeLock("stays.lock", holder: "alpha")
        try writeLock("goes.lock", holder: "beta")
        let monitor = try makeMonitor(poll: 2)
        _ = monitor.takeChanges()
        let scans = monitor.scanCount
        try writeLock("new.lock", holder: "gamma")
        try writeLock("stays.lock", holder: "delta")
        try FileSystem.removeName("\(directory)/goes.lock")
        try Data(#"{"bigger": true}"#.utf8).write(to: URL(fileURLWithPath: "\(directory)/result"))
        clock.advance(by: 2)
        let events = monitor.tick()
        XCTAssertEqual(
            Set(events.map { "\($0.kind.rawValue) \($0.key)" }),
            ["acquired new", "released stays", "acquired stays", "released goes"])
        let changes = monitor.takeChanges()
        XCTAssertFalse(changes.everything, "a poll patches what changed; the dashboard never rebuilds every row")
        XCTAssertEqual(changes.locks, ["new.lock", "stays.lock", "goes.lock"])
        XCTAssertEqual(changes.records, ["result"])
        XCTAssertEqual(monitor.scanCount, scans, "no full rescan")
        clock.advance(by: 2)
        XCTAssertEqual(monitor.tick().map(\.kind), [], "an unchanged directory gives nothing")
        XCTAssertTrue(monitor.takeChanges().isEmpty)
    }

    func testPollPressureCountsOtherProcessesOpensButNotOurOwn() throws {
        try writeLock("k.lock", holder: "alpha")
        let monitor = try makeMonitor()
        for _ in 0..<5 { monitor.refreshLock(named: "k.lock") }
        usleep(50_000)
        _ = monitor.processChanges()
        XCTAssertEqual(
            monitor.statistics(forLock: "k.lock").pollRate(now: clock.now), 0, "our own reads are not pressure")
        let writer = try TestSupport.start("/bin/sh", ["-c", "printf '{\"holder\": \"beta\"}' > \(directory)/k.lock"])
        _ = writer.wait(timeout: 30)
        usleep(50_000)
        _ = monitor.processChanges()
        XCTAssertEqual(monitor.statistics(forLock: "k.lock").pollRate(now: clock.now), 0, "a writer is not a waiter")
        let reader = try TestSupport.start(
            "/bin/sh",
            ["-c", "for i in 1 2 3 4 5 6 7 8 9 10; do cat \(directory)/k.lock > /dev/null; sleep 0.05; done"])
        _ = reader.wait(timeout: 30)
        usleep(50_000)
        _ = monitor.processChanges()
        let rate = monitor.statistics(forLock: "k.lock").pollRate(now: clock.now)
        XCTAssertGreaterThanOrEqual(rate, 1.0, "at least 5 of the 10 opens were seen over the 5 s window")
    }
}
