import Foundation
import LockReports
import LocktopTestSupport
import XCTest

@testable import LockMonitor
@testable import RecordStore

final class ClassifierTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_795_636_126)
    let classifier = LockClassifier(staleAfter: 3600, gracePeriod: 2)

    func environment(running: [Int32: UInt64?] = [:]) -> MonitorEnvironment {
        let now = self.now
        return MonitorEnvironment(
            now: { now }, hostName: "here",
            processStartTicks: { pid in
                guard let ticks = running[pid] else { return .missing }
                return .running(startTicks: ticks)
            })
    }

    func lock(_ content: LockFileContent?, bytes: [UInt8]? = nil, age: TimeInterval = 10, symlink: Bool = false)
        -> LockEntry
    {
        var raw = stat()
        raw.st_mode = symlink ? S_IFLNK | 0o777 : S_IFREG | 0o644
        raw.st_mtim.tv_sec = Int(now.timeIntervalSince1970 - age)
        raw.st_size = bytes.map { $0.count } ?? 64
        return LockEntry(
            name: "k.lock", path: "/d/k.lock", status: FileSystem.Status(raw), bytes: bytes ?? content?.encoded() ?? [],
            content: content, isSymbolicLink: symlink)
    }

    func testAHolderGoneWhileItsGuardianRunsIsHeldAndAGuardianOfAnotherUidOrStartIsNotBelieved() {
        let now = self.now
        func environment(guardianOwner: UInt32, ticks: UInt64 = 700) -> MonitorEnvironment {
            MonitorEnvironment(
                now: { now }, hostName: "here",
                processStartTicks: { pid in pid == 70 ? .running(startTicks: ticks, owner: guardianOwner) : .missing })
        }
        var content = LockFileContent(
            holder: "h", expiration: nil, hostName: "here", processID: 60, processStartTicks: 600)
        content.guardianProcessID = 70
        content.guardianStartTicks = 700
        var file = lock(content)
        let held = classifier.classify(file, now: now, environment: environment(guardianOwner: 0))
        XCTAssertEqual(held.state, .held, "root's lock: its guardian counts")
        XCTAssertEqual(
            held.reason, "holder pid 60 is gone, but its watchdog pid 70 is alive: its command's group may still run")
        XCTAssertEqual(
            classifier.classify(file, now: now, environment: environment(guardianOwner: 0, ticks: 701)).state, .stale,
            "a guardian pid reused since is no guardian")
        var raw = stat()
        raw.st_mode = S_IFREG | 0o644
        raw.st_uid = 1000
        raw.st_mtim.tv_sec = Int(now.timeIntervalSince1970 - 10)
        file = LockEntry(name: "k.lock", path: "/d/k.lock", status: FileSystem.Status(raw), bytes: [], content: content)
        XCTAssertEqual(
            classifier.classify(file, now: now, environment: environment(guardianOwner: 1000)).state, .held,
            "the file's owner runs the guardian")
        XCTAssertEqual(
            classifier.classify(file, now: now, environment: environment(guardianOwner: 0)).state, .stale,
            "uid 1000's file cannot make root's process its guardian")
    }

    func testEachStateWithInjectedClockAndLiveness() {
        let env = environment(running: [100: 5000, 200: nil])
        let held = classifier.classify(
            lock(LockFileContent(holder: "here:100:1:MainThread", expiration: now.addingTimeInterval(30))), now: now,
            environment: env)
        XCTAssertEqual(held.state, .held)
        XCTAssertEqual(held.liveness, .alive)
        XCTAssertEqual(held.reason, "holder pid 100 is alive", "the reason never only repeats the state")
        let expired = classifier.classify(
            lock(LockFileContent(holder: "here:100:1:MainThread", expiration: now.addingTimeInterval(-12))), now: now,
            environment: env)
        XCTAssertEqual(expired.state, .expired)
        XCTAssertEqual(expired.reason, "expired 12s ago")
        let dead = classifier.classify(
            lock(LockFileContent(holder: "here:300:1:MainThread", expiration: nil)), now: now, environment: env)
        XCTAssertEqual(dead.state, .stale)
        XCTAssertEqual(dead.liveness, .dead)
        XCTAssertEqual(dead.reason, "holder process 300 is gone")
        let reused = classifier.classify(
            lock(
                LockFileContent(
                    holder: "uuid", expiration: nil, hostName: "here", processID: 100, processStartTicks: 4000)),
            now: now, environment: env)
        XCTAssertEqual(reused.state, .stale)
        XCTAssertEqual(reused.liveness, .reused)
        let sameStart = classifier.classify(
            lock(
                LockFileContent(
                    holder: "uuid", expiration: nil, hostName: "here", processID: 100, processStartTicks: 5000)),
            now: now, environment: env)
        XCTAssertEqual(sameStart.state, .held)
        let old = classifier.classify(
            lock(LockFileContent(holder: "8f14e45f-ceea", expiration: nil), age: 7300), now: now, environment: env)
        XCTAssertEqual(old.state, .suspect, "age alone never proves a holder dead")
        XCTAssertEqual(old.liveness, .unknown)
        XCTAssertEqual(old.reason, "held 2h01m, longer than --stale-after 1h00m; nothing shows its holder dead")
        let writing = classifier.classify(lock(nil, bytes: [], age: 0.5), now: now, environment: env)
        XCTAssertEqual(writing.state, .writing)
        let unreadable = classifier.classify(
            lock(nil, bytes: Array("{\"holder\"".utf8), age: 5), now: now, environment: env)
        XCTAssertEqual(unreadable.state, .unreadable)
        XCTAssertEqual(unreadable.reason, "not valid lock JSON for 5s")
        let link = classifier.classify(lock(nil, bytes: [], age: 0, symlink: true), now: now, environment: env)
        XCTAssertEqual(link.state, .unreadable)
    }

    func testOtherHostsAndUuidHoldersAreNeverJudgedDeadByPid() {
        let env = environment()
        for holder in ["elsewhere:300:1:MainThread", "8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11"] {
            let result = classifier.classify(
                lock(LockFileContent(holder: holder, expiration: nil)), now: now, environment: env)
            XCTAssertEqual(result.state, .held, holder)
            XCTAssertEqual(result.liveness, .unknown, holder)
        }
    }

    func testStaleAfterIsConfigurableAndMakesSuspects() {
        let strict = LockClassifier(staleAfter: 90, gracePeriod: 2)
        let result = strict.classify(
            lock(LockFileContent(holder: "uuid", expiration: nil), age: 91), now: now, environment: environment())
        XCTAssertEqual(result.state, .suspect)
        XCTAssertEqual(result.state.breakAuthority, .confirmed, "a bulk break --stale never takes a suspect")
        XCTAssertFalse(result.state.isBreakableWithoutForce)
    }

    func testAHolderProvenAliveIsHeldWhateverItsAge() {
        let env = environment(running: [100: 5000])
        let strict = LockClassifier(staleAfter: 15, gracePeriod: 2)
        let named = strict.classify(
            lock(LockFileContent(holder: "here:100:1:MainThread", expiration: nil), age: 30), now: now, environment: env
        )
        XCTAssertEqual(named.state, .held)
        XCTAssertEqual(named.reason, "holder pid 100 is alive")
        XCTAssertEqual(named.state.breakAuthority, .forced)
        let creator = ProcessDetails(
            processID: 100, hostName: "here", startTicks: 5000, command: "python worker.py run1")
        let seen = strict.classify(
            lock(LockFileContent(holder: "ddadaacd-1", expiration: nil), age: 30), now: now, environment: env,
            evidence: LockEvidence(creator: creator))
        XCTAssertEqual(
            seen.state, .held, "fanotify's creator alive: a long task is never one cron break away from a second worker"
        )
        XCTAssertEqual(seen.liveness, .alive)
        XCTAssertEqual(seen.identitySource, .fanotify)
        XCTAssertEqual(seen.reason, "holder pid 100 is alive")
    }

    func testACreatorSeenDyingMakesAUuidLockStale() {
        var creator = ProcessDetails(
            processID: 9384, hostName: "here", startTicks: 77, command: "/usr/bin/python worker.py run1")
        creator.lastSeenAlive = now.addingTimeInterval(-10)
        let judged = classifier.classify(
            lock(LockFileContent(holder: "ddadaacd-1", expiration: nil)), now: now, environment: environment(),
            evidence: LockEvidence(creator: creator))
        XCTAssertEqual(judged.state, .stale)
        XCTAssertEqual(judged.reason, "holder pid 9384 (worker.py run1) died 10s ago")
        XCTAssertEqual(
            judged.breakReason(authority: .confirmed), "stale: holder pid 9384 (worker.py run1) died 10s ago")
        XCTAssertEqual(
            judged.breakReason(authority: .forced), "stale: holder pid 9384 (worker.py run1) died 10s ago",
            "a forced break of a stale lock logs what the operator saw")
    }

    func testAPolledLockHeldFarPastItsOwnHistoryIsSuspect() {
        let uuid = LockFileContent(holder: "8f14e45f-ceea", expiration: nil)
        let history = LockEvidence(typicalHold: 2, isPolled: true)
        XCTAssertEqual(
            classifier.classify(lock(uuid, age: 59), now: now, environment: environment(), evidence: history).state,
            .held,
            "never sooner than a minute")
        let long = classifier.classify(lock(uuid, age: 61), now: now, environment: environment(), evidence: history)
        XCTAssertEqual(long.state, .suspect)
        XCTAssertEqual(
            long.reason, "held 1m01s with waiters polling, over 10x its usual hold of 2s; nothing shows its holder dead"
        )
        XCTAssertEqual(
            classifier.classify(
                lock(uuid, age: 61), now: now, environment: environment(), evidence: LockEvidence(typicalHold: 2)
            ).state,
            .held, "nobody waits: nothing to suspect yet")
        let slow = LockEvidence(typicalHold: 30, isPolled: true)
        XCTAssertEqual(
            classifier.classify(lock(uuid, age: 299), now: now, environment: environment(), evidence: slow).state, .held
        )
        XCTAssertEqual(
            classifier.classify(lock(uuid, age: 301), now: now, environment: environment(), evidence: slow).state,
            .suspect)
        XCTAssertEqual(
            classifier.nextStateChange(
                of: lock(uuid, age: 10),
                judged: classifier.classify(
                    lock(uuid, age: 10), now: now,
                    environment: environment(), evidence: slow),
                evidence: slow),
            now.addingTimeInterval(290.001))
    }

    func testWaitersAreBlockedAfterBlockedAfterBehindAHolderNotKnownAlive() {
        let waiter = IdentityLedger.Waiter(
            process: ProcessDetails(processID: 4300, hostName: "here", startTicks: 1, command: "python w.py"),
            since: now.addingTimeInterval(-61), lastSeen: now, reads: 5)
        let uuid = lock(LockFileContent(holder: "8f14e45f-ceea", expiration: nil))
        let blocked = classifier.classify(
            uuid, now: now, environment: environment(), evidence: LockEvidence(waiters: [waiter]))
        XCTAssertEqual(blocked.blockedWaiters, 1)
        XCTAssertTrue(blocked.isBlocking)
        var young = waiter
        young.since = now.addingTimeInterval(-5)
        XCTAssertFalse(
            classifier.classify(uuid, now: now, environment: environment(), evidence: LockEvidence(waiters: [young]))
                .isBlocking,
            "one meaning of blocked: --blocked-after, everywhere")
        let alive = lock(LockFileContent(holder: "here:100:1:MainThread", expiration: nil))
        XCTAssertFalse(
            classifier.classify(
                alive, now: now, environment: environment(running: [100: nil]),
                evidence: LockEvidence(waiters: [waiter])
            ).isBlocking)
    }

    func testTheVerdictsLabelTellsAnUnjudgedHolder() {
        let unknown = classifier.classify(
            lock(LockFileContent(holder: "8f14e45f", expiration: nil)), now: now, environment: environment())
        XCTAssertEqual(unknown.label, "held?")
        XCTAssertEqual(unknown.verdictName, "held_unknown")
        let remote = classifier.classify(
            lock(LockFileContent(holder: "elsewhere:300:1:MainThread", expiration: nil)), now: now,
            environment: environment())
        XCTAssertEqual(remote.reason, "holder on elsewhere cannot be checked from this host")
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
        let reference = try XCTUnwrap(
            RecordSummary(parsing: Array(#"{"type":"reference","serializer_type":"pickle","storage_key":"abc"}"#.utf8)))
        XCTAssertEqual(reference.form, "reference")
        XCTAssertEqual(reference.serializer, "pickle")
        XCTAssertEqual(reference.storageKey, "abc")
        let modern = try XCTUnwrap(
            RecordSummary(
                parsing: Array(
                    #"{"metadata":{"storage_key":"/s/k","expiration":null,"serializer":{"type":"json"},"prefect_version":"3.9.1"},"result":"eyJ9"}"#
                        .utf8)))
        XCTAssertEqual(modern.form, "result")
        XCTAssertEqual(modern.serializer, "json")
        XCTAssertEqual(modern.storageKey, "/s/k")
        XCTAssertEqual(modern.prefectVersion, "3.9.1")
        XCTAssertNil(RecordSummary(parsing: Array("[1]".utf8)))
        XCTAssertNil(RecordSummary(parsing: Array("garbage".utf8)))
    }
}
