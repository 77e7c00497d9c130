import Foundation
import LocktopTestSupport
import XCTest
@testable import LockMonitor
@testable import RecordStore

final class ClassifierTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_795_636_126)
    let classifier = LockClassifier(staleAfter: 3600, gracePeriod: 2)

    func environment(running: [Int32: UInt64?] = [:]) -> MonitorEnvironment {
        let now = self.now
        return MonitorEnvironment(now: { now }, hostName: "here") { pid in
            guard let ticks = running[pid] else { return .missing }
            return .running(startTicks: ticks)
        }
    }

    func lock(_ content: LockFileContent?, bytes: [UInt8]? = nil, age: TimeInterval = 10, symlink: Bool = false) -> LockEntry {
        var raw = stat()
        raw.st_mode = symlink ? S_IFLNK | 0o777 : S_IFREG | 0o644
        raw.st_mtim.tv_sec = Int(now.timeIntervalSince1970 - age)
        raw.st_size = bytes.map { $0.count } ?? 64
        return LockEntry(name: "k.lock", path: "/d/k.lock", status: FileSystem.Status(raw), bytes: bytes ?? content?.encoded() ?? [],
                         content: content, isSymbolicLink: symlink)
    }

    func testEachStateWithInjectedClockAndLiveness() {
        let env = environment(running: [100: 5000, 200: nil])
        let held = classifier.classify(lock(LockFileContent(holder: "here:100:1:MainThread", expiration: now.addingTimeInterval(30))), now: now, environment: env)
        XCTAssertEqual(held.state, .held)
        XCTAssertEqual(held.liveness, .alive)
        XCTAssertEqual(held.reason, "holder pid 100 is alive", "the reason never only repeats the state")
        let expired = classifier.classify(lock(LockFileContent(holder: "here:100:1:MainThread", expiration: now.addingTimeInterval(-12))), now: now, environment: env)
        XCTAssertEqual(expired.state, .expired)
        XCTAssertEqual(expired.reason, "expired 12s ago")
        let dead = classifier.classify(lock(LockFileContent(holder: "here:300:1:MainThread", expiration: nil)), now: now, environment: env)
        XCTAssertEqual(dead.state, .stale)
        XCTAssertEqual(dead.liveness, .dead)
        XCTAssertEqual(dead.reason, "holder process 300 is gone")
        let reused = classifier.classify(lock(LockFileContent(holder: "uuid", expiration: nil, hostName: "here", processID: 100, processStartTicks: 4000)), now: now, environment: env)
        XCTAssertEqual(reused.state, .stale)
        XCTAssertEqual(reused.liveness, .reused)
        let sameStart = classifier.classify(lock(LockFileContent(holder: "uuid", expiration: nil, hostName: "here", processID: 100, processStartTicks: 5000)), now: now, environment: env)
        XCTAssertEqual(sameStart.state, .held)
        let old = classifier.classify(lock(LockFileContent(holder: "8f14e45f-ceea", expiration: nil), age: 7300), now: now, environment: env)
        XCTAssertEqual(old.state, .stale)
        XCTAssertEqual(old.liveness, .unknown)
        XCTAssertEqual(old.reason, "held for 2h01m, over the 1h00m stale age")
        let writing = classifier.classify(lock(nil, bytes: [], age: 0.5), now: now, environment: env)
        XCTAssertEqual(writing.state, .writing)
        let unreadable = classifier.classify(lock(nil, bytes: Array("{\"holder\"".utf8), age: 5), now: now, environment: env)
        XCTAssertEqual(unreadable.state, .unreadable)
        XCTAssertEqual(unreadable.reason, "not valid lock JSON for 5s")
        let link = classifier.classify(lock(nil, bytes: [], age: 0, symlink: true), now: now, environment: env)
        XCTAssertEqual(link.state, .unreadable)
    }

    func testOtherHostsAndUuidHoldersAreNeverJudgedDeadByPid() {
        let env = environment()
        for holder in ["elsewhere:300:1:MainThread", "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11"] {
            let result = classifier.classify(lock(LockFileContent(holder: holder, expiration: nil)), now: now, environment: env)
            XCTAssertEqual(result.state, .held, holder)
            XCTAssertEqual(result.liveness, .unknown, holder)
        }
    }

    func testStaleAfterIsConfigurable() {
        let strict = LockClassifier(staleAfter: 90, gracePeriod: 2)
        let result = strict.classify(lock(LockFileContent(holder: "uuid", expiration: nil), age: 91), now: now, environment: environment())
        XCTAssertEqual(result.state, .stale)
    }

    func testDurationText() {
        XCTAssertEqual(DurationText.parse("90s"), 90)
        XCTAssertEqual(DurationText.parse("15m"), 900)
        XCTAssertEqual(DurationText.parse("2h"), 7200)
        XCTAssertEqual(DurationText.parse("1h30m"), 5400)
        XCTAssertEqual(DurationText.parse("45"), 45)
        for bad in ["", "h", "5x", "-3s", "1h30"] { XCTAssertNil(DurationText.parse(bad), bad) }
        XCTAssertEqual(DurationText.format(42), "42s")
        XCTAssertEqual(DurationText.format(185), "3m05s")
        XCTAssertEqual(DurationText.format(7440), "2h04m")
        XCTAssertEqual(Reports.countdown(to: now.addingTimeInterval(185), now: now), "3m05s")
        XCTAssertEqual(Reports.countdown(to: now.addingTimeInterval(-12), now: now), "expired 12s ago")
        XCTAssertEqual(Reports.countdown(to: nil, now: now), "never")
    }

    func testRecordSummariesOfBothPrefectForms() throws {
        let reference = try XCTUnwrap(RecordSummary(parsing: Array(#"{"type":"reference","serializer_type":"pickle","storage_key":"abc"}"#.utf8)))
        XCTAssertEqual(reference.form, "reference")
        XCTAssertEqual(reference.serializer, "pickle")
        XCTAssertEqual(reference.storageKey, "abc")
        let modern = try XCTUnwrap(RecordSummary(parsing: Array(#"{"metadata":{"storage_key":"/s/k","expiration":null,"serializer":{"type":"json"},"prefect_version":"3.9.1"},"result":"eyJ9"}"#.utf8)))
        XCTAssertEqual(modern.form, "result")
        XCTAssertEqual(modern.serializer, "json")
        XCTAssertEqual(modern.storageKey, "/s/k")
        XCTAssertEqual(modern.prefectVersion, "3.9.1")
        XCTAssertNil(RecordSummary(parsing: Array("[1]".utf8)))
        XCTAssertNil(RecordSummary(parsing: Array("garbage".utf8)))
    }
}
