import Foundation
import XCTest

@testable import LockMonitor
@testable import RecordStore

/// The identity bookkeeping and the judgement it feeds, on values.
final class IdentityLedgerTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_795_636_126)
    let lockFile = FileKey(device: 1, inode: 42)

    func process(_ pid: Int32, ticks: UInt64 = 500, uid: UInt32 = 1000) -> ProcessDetails {
        var process = ProcessDetails(
            processID: pid, hostName: "here", startTicks: ticks, command: "/usr/bin/python /srv/flow.py --run nightly")
        process.uid = uid
        return process
    }

    /// The lock file's status after a close: owned by `owner`, written at `second`.
    func written(owner: UInt32 = 1000, second: Int = 1, size: Int = 64, inode: UInt = 42) -> FileSystem.Status {
        var raw = stat()
        raw.st_dev = 1
        raw.st_ino = inode
        raw.st_mode = S_IFREG | 0o644
        raw.st_uid = owner
        raw.st_size = size
        raw.st_mtim.tv_sec = second
        return FileSystem.Status(raw)
    }

    func close(_ pid: Int32, wrote: Bool, file: FileKey? = nil) -> FileClose {
        FileClose(processID: pid, directory: "/d", name: "k.lock", file: file ?? lockFile, wrote: wrote)
    }

    func testTheHolderReadingItsOwnLockAgainAndAgainWaitsForIt() {
        var ledger = IdentityLedger()
        _ = ledger.record(close(10, wrote: true), lockName: "k.lock", current: lockFile, written: written(), at: now) {
            self.process($0)
        }
        var announced: [IdentityLedger.Waiter] = []
        // Prefect's check before a commit: a read or two, no wait.
        for offset in [0.0, 0.1, 0.2, 0.3, 0.4, 0.9] {
            announced += [
                ledger.record(
                    close(10, wrote: false), lockName: "k.lock", current: lockFile, at: now.addingTimeInterval(offset)
                ) { self.process($0) }
            ].compactMap { $0 }
        }
        XCTAssertEqual(ledger.waiters(of: "k.lock"), [], "five reads within a second are not yet a wait")
        announced += [
            ledger.record(close(10, wrote: false), lockName: "k.lock", current: lockFile, at: now.addingTimeInterval(1))
            { self.process($0) }
        ].compactMap { $0 }
        XCTAssertEqual(announced.map(\.process.processID), [10], "announced once")
        XCTAssertEqual(ledger.waiters(of: "k.lock").map(\.holdsTheLock), [true])
    }

    func testAWaitEndsWhenTheWaiterTakesTheLockOrStopsReading() {
        var ledger = IdentityLedger()
        let describe = { (pid: Int32) in self.process(pid) }
        _ = ledger.record(close(10, wrote: true), lockName: "k.lock", current: lockFile, written: written(), at: now) {
            describe($0)
        }
        for (pid, offset) in [(20, 0.0), (20, 0.1), (30, 0.5), (30, 0.6), (40, 0.7)] {
            _ = ledger.record(
                close(Int32(pid), wrote: false), lockName: "k.lock", current: lockFile,
                at: now.addingTimeInterval(offset)
            ) { describe($0) }
        }
        XCTAssertEqual(ledger.takeEndedWaits(), [], "nobody stopped waiting yet")
        // The holder leaves; waiter 20 writes the new lock file: it waited from its first read to that write.
        let next = FileKey(device: 1, inode: 43)
        _ = ledger.record(
            close(20, wrote: true, file: next), lockName: "k.lock", current: next,
            written: written(second: 3, inode: 43),
            at: now.addingTimeInterval(2.5)
        ) { describe($0) }
        let taken = ledger.takeEndedWaits()
        XCTAssertEqual(taken.map(\.waiter.process.processID), [20])
        XCTAssertEqual(taken.first?.tookLock, true)
        XCTAssertEqual(taken.first?.seconds ?? 0, 2.5, accuracy: 0.001)
        XCTAssertEqual(ledger.takeEndedWaits(), [], "taken once")
        // Waiter 30 stops reading: its wait ends at its last read, without the lock. Reader 40
        // read once, so it never waited.
        _ = ledger.expireWaiters(at: now.addingTimeInterval(10)) { _ in true }
        let gaveUp = ledger.takeEndedWaits()
        XCTAssertEqual(gaveUp.map(\.waiter.process.processID), [30])
        XCTAssertEqual(gaveUp.first?.tookLock, false)
        XCTAssertEqual(gaveUp.first?.seconds ?? 0, 0.1, accuracy: 0.001)
    }

    func testTheWriterIsTheCreatorAndRepeatedReadersAreWaiters() {
        var ledger = IdentityLedger()
        XCTAssertNil(
            ledger.record(close(10, wrote: true), lockName: "k.lock", current: lockFile, written: written(), at: now) {
                self.process($0)
            })
        XCTAssertEqual(ledger.creator(of: lockFile)?.processID, 10)
        XCTAssertNil(
            ledger.record(close(10, wrote: false), lockName: "k.lock", current: lockFile, at: now) { self.process($0) },
            "the holder reading its own lock is not waiting")
        XCTAssertNil(
            ledger.record(close(20, wrote: false), lockName: "k.lock", current: lockFile, at: now) { self.process($0) },
            "one read is not waiting: `cat` or `locktop list`")
        XCTAssertEqual(ledger.waiters(of: "k.lock"), [])
        let waiter = ledger.record(
            close(20, wrote: false), lockName: "k.lock", current: lockFile, at: now.addingTimeInterval(0.1)
        ) { self.process($0) }
        XCTAssertEqual(waiter?.process.processID, 20)
        XCTAssertEqual(waiter?.since, now, "waiting since its first read")
        _ = ledger.record(close(30, wrote: false), lockName: "k.lock", current: lockFile, at: now.addingTimeInterval(1))
        { self.process($0) }
        _ = ledger.record(
            close(30, wrote: false), lockName: "k.lock", current: lockFile, at: now.addingTimeInterval(1.1)
        ) { self.process($0) }
        XCTAssertEqual(ledger.waiters(of: "k.lock").map(\.process.processID), [20, 30], "longest first")
    }

    func testWaitersGoAfterTwoSilentSecondsOrWhenTheyDie() {
        var ledger = IdentityLedger()
        for (pid, time) in [(20, 0.0), (20, 0.1), (30, 0.0), (30, 1.5)] as [(Int32, Double)] {
            _ = ledger.record(
                close(pid, wrote: false), lockName: "k.lock", current: lockFile, at: now.addingTimeInterval(time)
            ) { self.process($0) }
        }
        XCTAssertEqual(ledger.expireWaiters(at: now.addingTimeInterval(2.2)) { _ in true }, ["k.lock"])
        XCTAssertEqual(ledger.waiters(of: "k.lock").map(\.process.processID), [30])
        XCTAssertEqual(
            ledger.expireWaiters(at: now.addingTimeInterval(2.3)) { $0 != 30 }, ["k.lock"],
            "a waiter whose process died")
        XCTAssertEqual(ledger.waiters(of: "k.lock"), [])
    }

    func testAWriteOpenThatChangedNothingOrByAnotherUidCreditsNoOne() {
        var ledger = IdentityLedger()
        _ = ledger.record(close(10, wrote: true), lockName: "k.lock", current: lockFile, written: written(), at: now) {
            self.process($0)
        }
        XCTAssertEqual(ledger.creator(of: lockFile)?.processID, 10)
        // Another process opens it for writing and closes it: the file did not change.
        _ = ledger.record(close(66, wrote: true), lockName: "k.lock", current: lockFile, written: written(), at: now) {
            self.process($0)
        }
        XCTAssertEqual(ledger.creator(of: lockFile)?.processID, 10, "a write-open is not a write")
        // Another uid changes it: the file's owner did not write it.
        _ = ledger.record(
            close(66, wrote: true), lockName: "k.lock", current: lockFile, written: written(second: 2), at: now
        ) {
            self.process($0, uid: 2000)
        }
        XCTAssertEqual(
            ledger.creator(of: lockFile)?.processID, 10, "only the file's owner (or root) may be its creator")
        // The owner's new process rewrites it: that is a new holder.
        _ = ledger.record(
            close(11, wrote: true), lockName: "k.lock", current: lockFile, written: written(second: 3), at: now
        ) { self.process($0) }
        XCTAssertEqual(ledger.creator(of: lockFile)?.processID, 11)
    }

    func testAWriterThatHadExitedIsCreditedOnlyWhenNobodyButTheOwnerMayWriteTheFile() {
        var ledger = IdentityLedger()
        var exited = close(10, wrote: true)
        exited.processExited = true
        var shared = written()
        shared.mode = UInt32(S_IFREG) | 0o664
        _ = ledger.record(exited, lockName: "k.lock", current: lockFile, written: shared, at: now) {
            .exited($0, hostName: "here")
        }
        XCTAssertNil(ledger.creator(of: lockFile), "the group may write it: its uid is unknown, so is its right")
        _ = ledger.record(exited, lockName: "k.lock", current: lockFile, written: written(), at: now) {
            .exited($0, hostName: "here")
        }
        XCTAssertEqual(ledger.creator(of: lockFile).map { [$0.processID == 10, $0.exitedBeforeSeen] }, [true, true])
        // A later writer of the lock file is the next holder, judged as any.
        _ = ledger.record(
            close(11, wrote: true), lockName: "k.lock", current: lockFile, written: written(second: 2), at: now
        ) { self.process($0) }
        XCTAssertEqual(ledger.creator(of: lockFile).map { [$0.processID == 11, $0.exitedBeforeSeen] }, [true, false])
    }

    func testAUUIDLockIsJudgedByItsCreatorsProcess() {
        let classifier = LockClassifier()
        var raw = stat()
        raw.st_mode = S_IFREG | 0o644
        raw.st_mtim.tv_sec = Int(now.timeIntervalSince1970 - 30)
        let content = LockFileContent(holder: "9d87db93-4b04-4bf0-90ec-0d6f20a226f9", expiration: nil)
        let lock = LockEntry(
            name: "k.lock", path: "/d/k.lock", status: FileSystem.Status(raw), bytes: content.encoded(),
            content: content)
        func environment(_ lookup: MonitorEnvironment.ProcessLookup) -> MonitorEnvironment {
            let now = self.now
            return MonitorEnvironment(now: { now }, hostName: "here", processStartTicks: { _ in lookup })
        }
        let unknown = classifier.classify(lock, now: now, environment: environment(.missing))
        XCTAssertEqual(
            [unknown.state.rawValue, unknown.liveness.rawValue, unknown.reason, unknown.identitySource.rawValue],
            ["held", "unknown", "holder process unknown", "none"])
        let alive = classifier.classify(
            lock, now: now, environment: environment(.running(startTicks: 500)),
            evidence: LockEvidence(creator: process(4242)))
        XCTAssertEqual(
            [alive.state.rawValue, alive.liveness.rawValue, alive.identitySource.rawValue],
            ["held", "alive", "fanotify"])
        var seen = process(4242)
        seen.lastSeenAlive = now.addingTimeInterval(-12)
        let dead = classifier.classify(
            lock, now: now, environment: environment(.missing), evidence: LockEvidence(creator: seen))
        XCTAssertEqual(dead.state, .stale)
        XCTAssertEqual(dead.reason, "holder pid 4242 (flow.py --run nightly) died 12s ago")
        let exited = classifier.classify(
            lock, now: now, environment: environment(.running(startTicks: 500)),
            evidence: LockEvidence(creator: .exited(4242, hostName: "here")))
        XCTAssertEqual(
            [exited.state.rawValue, exited.liveness.rawValue, exited.reason],
            ["stale", "dead", "holder pid 4242 died: it had exited when its write of the lock was read"],
            "dead whatever its pid runs now")
        let reused = classifier.classify(
            lock, now: now, environment: environment(.running(startTicks: 999)),
            evidence: LockEvidence(creator: process(4242)))
        XCTAssertEqual([reused.state.rawValue, reused.liveness.rawValue], ["stale", "reused"])
        let elsewhere = classifier.classify(
            lock, now: now, environment: environment(.missing),
            evidence: LockEvidence(
                creator: ProcessDetails(processID: 1, hostName: "other-host", startTicks: 1, command: "x")))
        XCTAssertEqual(elsewhere.liveness, .unknown, "another host's process is never judged from here")
        let unreadable = LockEntry(
            name: lock.name, path: lock.path, status: lock.status, bytes: [], content: nil,
            readError: "permission denied")
        XCTAssertEqual(
            classifier.classify(unreadable, now: now, environment: environment(.missing)).reason,
            "this user cannot read it: permission denied")
    }
}
