import Foundation
import LocktopTestSupport
import XCTest

@testable import LockMonitor
@testable import RecordStore
@testable import RedisMonitor
@testable import RedisStore

/// Judging and breaking Redis locks, against a real redis-server.
final class RedisMonitorTests: XCTestCase {
    func testAUuid1TokenIsAProbeWhoseTimeIsDecodedAndOtherTokensAreNot() {
        let probed = RedisLockJudge.probeTime("0e4f5d404a4b11ea80000242ac120002")
        XCTAssertEqual(
            probed?.timeIntervalSince1970 ?? 0, 1_581_149_681.1306305, accuracy: 0.001,
            "as Python's uuid.UUID(...).time says")
        XCTAssertNil(RedisLockJudge.probeTime("8f14e45fceea467fa0e68d5e1b7f2a11"), "a uuid4 is no probe")
        XCTAssertNil(
            RedisLockJudge.probeTime("8f14e45f-ceea-167f-a0e6-8d5e1b7f2a11"), "the dashed form is not redis-py's token")
        XCTAssertNil(RedisLockJudge.probeTime("web-1:4242:1:MainThread"))
    }

    func testABreakOfATokenTakenAgainMeanwhileIsChangedNotBrokenAndFirstSeenTimesPersist() throws {
        let server = try RedisServer(for: self)
        let directory = TestSupport.temporaryDirectory(for: self)
        let url = try RedisURL(server.url())
        let store = RedisLockStore(connection: try RedisConnection(url: url))
        let ledger = "\(directory)/first-seen.json"
        let reader = RedisLockReader(store: store, firstSeen: FirstSeenLedger(path: ledger))
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        XCTAssertTrue(try store.acquire(key: "k", holder: "first"))
        let judged = try XCTUnwrap(reader.locks(now: start).first)
        XCTAssertEqual(judged.entry.acquired, start)
        let later = try XCTUnwrap(
            RedisLockReader(store: store, firstSeen: FirstSeenLedger(path: ledger)).locks(
                now: start.addingTimeInterval(7200)
            ).first)
        XCTAssertEqual(later.entry.acquired, start, "first seen is kept across runs")
        let classifier = LockClassifier(staleAfter: 3600, gracePeriod: 2)
        let environment = MonitorEnvironment(
            now: { start.addingTimeInterval(7200) }, hostName: "here", processStartTicks: { _ in .missing })
        let judge = RedisLockJudge(classifier: classifier)
        XCTAssertEqual(
            judge.classify(later, now: start.addingTimeInterval(7200), environment: environment).state, .suspect,
            "no TTL, held past --stale-after since first seen: suspect, not proof")

        _ = try store.connection.command(["SET", "lock:k", "second"])
        let log = AuditLog(path: "\(directory)/audit.log")
        let lockOperator = RedisLockOperator(
            reader: reader, judge: judge, environment: environment, breaker: LockBreaker(auditLog: log))
        XCTAssertThrowsError(
            try lockOperator.breakLock(
                judged, classification: judge.classify(judged, now: start, environment: environment),
                authority: .forced, dryRun: false)
        ) { error in
            XCTAssertEqual(error as? LockOperationError, .changedSinceJudged(key: "k"))
        }
        XCTAssertEqual(try store.lock(forKey: "k")?.holderText, "second", "the new token is left alone")
        XCTAssertFalse(FileManager.default.fileExists(atPath: log.path), "nothing broken, nothing logged")
        let renewed = try XCTUnwrap(reader.locks(now: start.addingTimeInterval(9000)).first)
        XCTAssertEqual(renewed.entry.acquired, start.addingTimeInterval(9000), "a new token is a new lock")
        _ = try store.connection.command(["DEL", "lock:k"])
        XCTAssertThrowsError(
            try lockOperator.breakLock(
                renewed, classification: judge.classify(renewed, now: start, environment: environment),
                authority: .forced, dryRun: false)
        ) { error in
            XCTAssertEqual(error as? LockOperationError, .noLock(key: "k", lockFile: renewed.entry.path))
        }
        XCTAssertEqual(try reader.locks(now: start), [])
        XCTAssertEqual(try String(contentsOfFile: ledger, encoding: .utf8), "{}", "gone locks are forgotten")
    }
}
