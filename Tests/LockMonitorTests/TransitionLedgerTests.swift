import Foundation
import XCTest

@testable import LockMonitor
@testable import RecordStore

/// The ledger on values alone: no directory, no clock, no process table.
final class TransitionLedgerTests: XCTestCase {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func lock(_ holder: String?, expiration: Date? = nil, writtenAt: Date? = nil, inode: UInt = 1) -> LockEntry {
        var raw = stat()
        raw.st_mode = S_IFREG | 0o644
        raw.st_ino = inode
        raw.st_mtim.tv_sec = Int((writtenAt ?? start).timeIntervalSince1970)
        let content = holder.map { LockFileContent(holder: $0, expiration: expiration) }
        let bytes = content?.encoded() ?? Array("{garbled".utf8)
        raw.st_size = bytes.count
        return LockEntry(
            name: "task.lock", path: "/d/task.lock", status: FileSystem.Status(raw), bytes: bytes, content: content)
    }

    func kinds(_ events: [MonitorEvent]) -> [MonitorEvent.Kind] { events.map(\.kind) }

    func testAcquireThenReleaseCountsTheHoldTime() {
        var ledger = TransitionLedger()
        let held = lock("a")
        let acquired = ledger.transition(name: "task.lock", from: nil, to: held, at: start, gracePeriod: 2)
        XCTAssertEqual(kinds(acquired), [.acquired])
        XCTAssertEqual(acquired.first?.key, "task")
        XCTAssertEqual(acquired.first?.detail, "no expiration")
        let released = ledger.transition(
            name: "task.lock", from: held, to: nil, at: start.addingTimeInterval(90), gracePeriod: 2)
        XCTAssertEqual(kinds(released), [.released])
        XCTAssertEqual(released.first?.previousHolder, "a")
        XCTAssertEqual(released.first?.heldSeconds, 90)
        XCTAssertEqual(released.first?.detail, "held 1m30s")
        XCTAssertEqual(ledger.statistics(forLock: "task.lock").acquisitions, 1)
        XCTAssertTrue(
            ledger.transition(name: "task.lock", from: nil, to: nil, at: start, gracePeriod: 2).isEmpty,
            "nothing to nothing")
    }

    func testAFileReplacedByAnEmptyOneEndsTheHoldThenAndTheNextTakerIsAHandOff() {
        var ledger = TransitionLedger()
        let first = lock("a")
        _ = ledger.transition(name: "task.lock", from: nil, to: first, at: start, gracePeriod: 2)
        // Prefect's next taker touched its own file: not written yet, another inode.
        let empty = lock(nil, inode: 2)
        let replaced = ledger.transition(
            name: "task.lock", from: first, to: empty, at: start.addingTimeInterval(3), gracePeriod: 2)
        XCTAssertEqual(kinds(replaced), [.released])
        XCTAssertEqual(replaced.first?.heldSeconds, 3, "the hold ended when its file went")
        let written = lock("b", inode: 2)
        let taken = ledger.transition(
            name: "task.lock", from: empty, to: written, at: start.addingTimeInterval(3.2), gracePeriod: 2)
        XCTAssertEqual(kinds(taken), [.acquired])
        XCTAssertEqual(taken.first?.previousHolder, "a", "a hand-off names whom it passed from")
        XCTAssertEqual(ledger.statistics(forLock: "task.lock").handOffs, 1)
        // Taken after the hand-off window, by nobody's release: no previous holder.
        _ = ledger.transition(
            name: "task.lock", from: written, to: nil, at: start.addingTimeInterval(4), gracePeriod: 2)
        let later = ledger.transition(
            name: "task.lock", from: nil, to: lock("c", inode: 3), at: start.addingTimeInterval(9), gracePeriod: 2)
        XCTAssertNil(later.first?.previousHolder)
    }

    func testANewHolderIsAReleaseAndAnAcquisitionAndANewExpirationIsAChange() {
        var ledger = TransitionLedger()
        let first = lock("a")
        _ = ledger.transition(name: "task.lock", from: nil, to: first, at: start, gracePeriod: 2)
        let second = lock("b", inode: 2)
        XCTAssertEqual(
            kinds(
                ledger.transition(
                    name: "task.lock", from: first, to: second, at: start.addingTimeInterval(1), gracePeriod: 2)),
            [.released, .acquired])
        let renewed = lock("b", expiration: start.addingTimeInterval(60), inode: 2)
        let changed = ledger.transition(
            name: "task.lock", from: second, to: renewed, at: start.addingTimeInterval(2), gracePeriod: 2)
        XCTAssertEqual(kinds(changed), [.changed])
        XCTAssertEqual(changed.first?.expiresAt, start.addingTimeInterval(60))
        XCTAssertTrue(
            ledger.transition(
                name: "task.lock", from: renewed, to: renewed, at: start.addingTimeInterval(3), gracePeriod: 2
            ).isEmpty,
            "the same content again is no event")
        var identity = LockFileContent(holder: "b", expiration: start.addingTimeInterval(60))
        identity.processID = 4242
        identity.hostName = "worker-b"
        let described = LockEntry(
            name: "task.lock", path: "/d/task.lock", status: renewed.status, bytes: identity.encoded(),
            content: identity)
        XCTAssertTrue(
            ledger.transition(
                name: "task.lock", from: renewed, to: described, at: start.addingTimeInterval(4), gracePeriod: 2
            ).isEmpty,
            "the same holder and expiration, with its identity learned (a Redis companion arriving): no event")
    }

    func testAGarbledFileIsAChangeOnlyOnceItIsOlderThanTheGracePeriod() {
        var ledger = TransitionLedger()
        let held = lock("a")
        _ = ledger.transition(name: "task.lock", from: nil, to: held, at: start, gracePeriod: 2)
        let young = lock(nil, writtenAt: start.addingTimeInterval(10))
        XCTAssertTrue(
            ledger.transition(
                name: "task.lock", from: held, to: young, at: start.addingTimeInterval(11), gracePeriod: 2
            ).isEmpty,
            "being written")
        let old = ledger.transition(
            name: "task.lock", from: held, to: young, at: start.addingTimeInterval(13), gracePeriod: 2)
        XCTAssertEqual(kinds(old), [.changed])
        XCTAssertEqual(old.first?.detail, "the lock file became unreadable")
    }

    func testALockSetAsideWaitsForItsAsideAndItsRemovalSaysHowItLeft() {
        var ledger = TransitionLedger()
        let held = lock("a")
        _ = ledger.transition(name: "task.lock", from: nil, to: held, at: start, gracePeriod: 2)
        XCTAssertTrue(
            ledger.transition(name: "task.lock", from: held, to: nil, at: start, isSetAside: true, gracePeriod: 2)
                .isEmpty)
        let audit = AuditLog.Entry(
            time: start, brokenBy: "ops (pid 7)", key: "task", lockFile: "/d/task.lock", oldHolder: "a",
            oldExpiration: nil, reason: "holder died")
        let broken = ledger.transition(
            name: "task.lock", from: nil, to: nil, at: start.addingTimeInterval(5),
            removal: .init(removal: .operatorBreak, processID: 7, audit: audit), gracePeriod: 2)
        XCTAssertEqual(kinds(broken), [.broken])
        XCTAssertEqual([broken.first?.reason, broken.first?.brokenBy], ["holder died", "ops (pid 7)"])

        _ = ledger.transition(name: "task.lock", from: nil, to: held, at: start, gracePeriod: 2)
        let cleared = ledger.transition(
            name: "task.lock", from: held, to: nil, at: start.addingTimeInterval(4),
            removal: .init(removal: .expired, processID: 9), gracePeriod: 2)
        XCTAssertEqual(kinds(cleared), [.released])
        XCTAssertEqual(cleared.first?.detail, "held 4s, expired; cleared by acquirer pid 9")

        _ = ledger.transition(name: "task.lock", from: nil, to: held, at: start, gracePeriod: 2)
        var asked: [String] = []
        let elsewhere = ledger.transition(name: "task.lock", from: held, to: nil, at: start, gracePeriod: 2) {
            name, holder in
            asked.append("\(name) \(holder ?? "-")")
            return nil
        }
        XCTAssertEqual(asked, ["task.lock a"], "a lock gone without an aside is looked up in the audit log")
        XCTAssertEqual(kinds(elsewhere), [.released])
        _ = ledger.transition(name: "task.lock", from: nil, to: held, at: start, gracePeriod: 2)
        let unaudited = ledger.transition(
            name: "task.lock", from: held, to: nil, at: start,
            removal: .init(removal: .operatorBreak, processID: 3), gracePeriod: 2)
        XCTAssertEqual(kinds(unaudited), [.released], "an aside's name proves no break: anyone may pick one")
        XCTAssertEqual(
            unaudited.first?.detail, "held 0s, set aside as a break by pid 3, with no line in this user's audit log")
    }

    /// Found by the soak: a lock handed from a to b and broken before this watch read b's file.
    func testABreakNamesTheHolderItsAuditLineBrokeEvenOneThisWatchNeverRead() {
        var ledger = TransitionLedger()
        let held = lock("a")
        _ = ledger.transition(name: "task.lock", from: nil, to: held, at: start, gracePeriod: 2)
        let audit = AuditLog.Entry(
            time: start, brokenBy: "ops (pid 7)", key: "task", lockFile: "/d/task.lock", oldHolder: "b",
            oldExpiration: nil, reason: "forced: held")
        let broken = ledger.transition(
            name: "task.lock", from: held, to: nil, at: start.addingTimeInterval(1),
            removal: .init(removal: .operatorBreak, processID: 7, audit: audit), gracePeriod: 2)
        XCTAssertEqual(kinds(broken), [.broken])
        XCTAssertEqual(broken.first?.previousHolder, "b", "the holder the audit line says was broken")
    }

    func testJudgementsAnnounceStaleExpiredAndBlockedOnce() {
        var ledger = TransitionLedger()
        let expiring = lock("a", expiration: start.addingTimeInterval(30))
        ledger.seed(expiring, judged: LockClassification(state: .held, liveness: .unknown, reason: "held"), at: start)
        let stale = LockClassification(state: .stale, liveness: .dead, reason: "holder pid 4 is gone")
        let first = ledger.judge(expiring, as: stale, at: start.addingTimeInterval(1))
        XCTAssertEqual(kinds(first.events), [.stale])
        XCTAssertTrue(first.changed)
        XCTAssertEqual(
            ledger.judge(expiring, as: stale, at: start.addingTimeInterval(2)),
            TransitionLedger.Judgement(), "the same judgement again announces nothing")
        let expired = LockClassification(state: .expired, liveness: .dead, reason: "expired")
        XCTAssertEqual(kinds(ledger.judge(expiring, as: expired, at: start.addingTimeInterval(31)).events), [.expired])
        XCTAssertEqual(kinds(ledger.judge(expiring, as: expired, at: start.addingTimeInterval(32)).events), [])

        let forever = lock("uuid", inode: 3)
        let unknown = LockClassification(
            state: .held, liveness: .unknown, reason: LockClassification.unknownHolderReason)
        var blockedVerdict = unknown
        blockedVerdict.blockedWaiters = 1
        blockedVerdict.blockedFor = 70
        XCTAssertTrue(ledger.judge(forever, as: unknown, at: start.addingTimeInterval(59)).events.isEmpty)
        let blocked = ledger.judge(forever, as: blockedVerdict, at: start.addingTimeInterval(70))
        XCTAssertEqual(kinds(blocked.events), [.blocked])
        XCTAssertTrue(blocked.changed, "a row that starts blocking is drawn again")
        XCTAssertEqual(blocked.events.first?.detail, "1 waiter blocked 1m10s behind an unknown holder")
        XCTAssertTrue(ledger.judge(forever, as: blockedVerdict, at: start.addingTimeInterval(71)).events.isEmpty)
        let suspect = LockClassification(state: .suspect, liveness: .unknown, reason: "held 2h00m")
        XCTAssertEqual(kinds(ledger.judge(forever, as: suspect, at: start.addingTimeInterval(7200)).events), [.suspect])
    }
}
