import Foundation
import XCTest

@testable import LockMonitor
@testable import RecordStore
@testable import RedisMonitor
@testable import RedisStore

/// The Redis helper's companion and heartbeat, as values: what counts, and what each says.
final class RedisHeartbeatTests: XCTestCase {
    let token = "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11"
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func companion(holder: String, alive: String = "locktop:alive:worker-b:4242:99", interval: Double = 1) -> [UInt8] {
        Array(
            #"{"holder":"\#(holder)","host":"worker-b","pid":4242,"process_start_ticks":99,"alive":"\#(alive)","heartbeat_interval":\#(interval),"flow_run_id":"run-1"}"#
                .utf8)
    }

    func testACompanionCountsOnlyForTheTokenItNamesAndOnlyAHeartbeatsKey() throws {
        XCTAssertNil(RedisHolderRecord(parsing: companion(holder: "another"), token: token), "an earlier holder's")
        XCTAssertNil(RedisHolderRecord(parsing: Array("not json".utf8), token: token))
        let record = try XCTUnwrap(RedisHolderRecord(parsing: companion(holder: token), token: token))
        XCTAssertEqual(record.content.hostName, "worker-b")
        XCTAssertEqual(record.content.processID, 4242)
        XCTAssertEqual(record.content.flowRunID, "run-1")
        XCTAssertEqual(record.heartbeatName, Array("locktop:alive:worker-b:4242:99".utf8))
        let foreign = try XCTUnwrap(
            RedisHolderRecord(parsing: companion(holder: token, alive: "secret:key"), token: token))
        XCTAssertNil(foreign.heartbeatName, "a key outside locktop:alive: is never read")
        let silly = try XCTUnwrap(RedisHolderRecord(parsing: companion(holder: token, interval: 0.001), token: token))
        XCTAssertNil(silly.heartbeatName, "an interval out of range names no heartbeat")
    }

    func testABeatingKeyIsAliveAndAnExpiryWatchedIsDatedByTheLastTimeToLive() throws {
        let record = try XCTUnwrap(RedisHolderRecord(parsing: companion(holder: token), token: token))
        let beating = RedisHeartbeat(timeToLive: 2_500, at: start, previous: nil)
        let alive = try XCTUnwrap(record.testimony(of: beating, now: start))
        XCTAssertEqual(alive.verdict, .alive)
        XCTAssertEqual(alive.source, .heartbeat)
        XCTAssertEqual(alive.observedAt.timeIntervalSince(start), -0.5, accuracy: 0.001, "renewed 0.5 s ago")

        let gone = RedisHeartbeat(timeToLive: nil, at: start.addingTimeInterval(4), previous: beating)
        XCTAssertEqual(gone.reading, .gone(expiredAt: start.addingTimeInterval(2.5)))
        let dead = try XCTUnwrap(record.testimony(of: gone, now: start.addingTimeInterval(11.5)))
        XCTAssertEqual(dead.verdict, .dead)
        XCTAssertEqual(dead.reason, "heartbeat of pid 4242 on worker-b expired 9s ago")

        let unseen = RedisHeartbeat(timeToLive: nil, at: start, previous: nil)
        XCTAssertEqual(unseen.reading, .gone(expiredAt: nil))
        XCTAssertEqual(try XCTUnwrap(record.testimony(of: unseen, now: start)).verdict, .dead)
    }

    func testTheJudgeTakesTheHeartbeatForAHolderElsewhereAndProcForOneHere() throws {
        let lock = RedisLock(name: Array("lock:k".utf8), key: "k", holder: Array(token.utf8), timeToLive: nil)
        let record = RedisHolderRecord(parsing: companion(holder: token), token: token)
        let gone = RedisHeartbeat(timeToLive: nil, at: start, previous: nil)
        let entry = RedisLockEntry(lock, record: record, heartbeat: gone, firstSeen: start, now: start, location: "r")
        let judge = RedisLockJudge(classifier: LockClassifier())
        let start = self.start
        let elsewhere = MonitorEnvironment(
            now: { start }, hostName: "host-a", processStartTicks: { _ in .missing })
        let judged = judge.classify(entry, now: start, environment: elsewhere)
        XCTAssertEqual(judged.state, .stale)
        XCTAssertEqual(judged.judgedBy, .heartbeat)
        XCTAssertEqual(judged.holderHost, "worker-b")
        // On the holder's own host, /proc outranks the heartbeat: a paused process still lives.
        let here = MonitorEnvironment(
            now: { start }, hostName: "worker-b", processStartTicks: { _ in .running(startTicks: 99, owner: 0) })
        XCTAssertEqual(judge.classify(entry, now: start, environment: here).state, .held)
        // No companion: nothing proves anything.
        let bare = RedisLockEntry(lock, firstSeen: start, now: start, location: "r")
        XCTAssertEqual(judge.classify(bare, now: start, environment: elsewhere).liveness, .unknown)
    }
}
