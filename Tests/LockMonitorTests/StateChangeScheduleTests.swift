import Foundation
import LocktopTestSupport
import XCTest

@testable import LockMonitor
@testable import RecordStore

/// Idle ticks judge only the locks time can change, at the moment it changes them.
final class StateChangeScheduleTests: XCTestCase {
    /// This host and its processes, with `clock` for the time.
    static func environment(reading clock: TestClock) -> MonitorEnvironment {
        let live = MonitorEnvironment.live
        return MonitorEnvironment(
            now: { clock.now }, hostName: live.hostName, processStartTicks: live.processStartTicks)
    }

    func testDueNamesComeEarliestFirstAndARescheduleReplacesTheEarlierDate() {
        let start = Date(timeIntervalSince1970: 1_000)
        var schedule = StateChangeSchedule()
        schedule.schedule("c", at: start.addingTimeInterval(3))
        schedule.schedule("a", at: start.addingTimeInterval(1))
        schedule.schedule("b", at: start.addingTimeInterval(2))
        schedule.schedule("a", at: start.addingTimeInterval(5))
        schedule.schedule("d", at: start.addingTimeInterval(1))
        schedule.schedule("d", at: nil)
        XCTAssertEqual(schedule.takeDue(at: start.addingTimeInterval(0.5)), [])
        XCTAssertEqual(schedule.takeDue(at: start.addingTimeInterval(3)), ["b", "c"])
        XCTAssertEqual(schedule.count, 1)
        XCTAssertEqual(schedule.takeDue(at: start.addingTimeInterval(10)), ["a"])
        XCTAssertEqual(schedule.count, 0)
    }

    func testManyReschedulesKeepTheScheduleSmallAndCorrect() {
        let start = Date(timeIntervalSince1970: 1_000)
        var schedule = StateChangeSchedule()
        for round in 0..<50 {
            for index in 0..<100 {
                schedule.schedule("lock-\(index)", at: start.addingTimeInterval(Double(round * 100 + index)))
            }
        }
        let due = schedule.takeDue(at: start.addingTimeInterval(4_950))
        XCTAssertEqual(due, (0...50).map { "lock-\($0)" })
        XCTAssertEqual(schedule.count, 49)
    }

    func testIdleTicksJudgeOnlyExpiringLocksAndLocksNamingAProcess() throws {
        let directory = TestSupport.temporaryDirectory(for: self)
        let clock = TestClock(Date())
        let environment = Self.environment(reading: clock)
        let start = clock.now
        for index in 0..<300 {
            let expiration: Date? = index < 100 ? nil : start.addingTimeInterval(index < 200 ? 30 : 600)
            try LockFiles.create(
                path: "\(directory)/uuid-\(index).lock",
                bytes: LockFileContent(holder: UUID().uuidString.lowercased(), expiration: expiration).encoded())
        }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["600"]
        try child.run()
        let holder = "\(environment.hostName):\(child.processIdentifier):1:MainThread"
        try LockFiles.create(
            path: "\(directory)/worker.lock", bytes: LockFileContent(holder: holder, expiration: nil).encoded())
        let monitor = try LockMonitor(
            configuration: .init(
                recordsDirectory: directory, classifier: LockClassifier(staleAfter: 3_600), watchesProcesses: false),
            environment: environment)
        _ = monitor.takeChanges()

        var quiet: [MonitorEvent] = []
        for _ in 0..<29 {
            clock.advance(by: 1)
            quiet += monitor.tick()
        }
        XCTAssertEqual(quiet, [])
        XCTAssertEqual(monitor.takeChanges().locks, [])
        XCTAssertLessThanOrEqual(
            monitor.judgementCount, 6, "29 idle seconds judge only the lock naming a process, every 5 s")

        clock.advance(by: 2)
        let expired = monitor.tick()
        XCTAssertEqual(expired.count, 100)
        XCTAssertEqual(Set(expired.map(\.kind)), [.expired])
        XCTAssertEqual(monitor.takeChanges().locks, Set((100..<200).map { "uuid-\($0).lock" }))
        XCTAssertEqual(monitor.tick(), [], "an expiration is announced once")

        child.terminate()
        child.waitUntilExit()
        clock.advance(by: 5)
        let stale = monitor.tick()
        XCTAssertEqual(stale.map(\.kind), [.stale])
        XCTAssertEqual(stale.first?.key, "worker")
        XCTAssertEqual(monitor.takeChanges().locks, ["worker.lock"])
        XCTAssertLessThan(monitor.judgementCount, 120)
    }

    func testARewrittenLockIsJudgedAtOnceAndOnce() throws {
        let directory = TestSupport.temporaryDirectory(for: self)
        let clock = TestClock(Date())
        let environment = Self.environment(reading: clock)
        try LockFiles.create(
            path: "\(directory)/job.lock", bytes: LockFileContent(holder: "a", expiration: nil).encoded())
        let monitor = try LockMonitor(
            configuration: .init(recordsDirectory: directory, watchesProcesses: false), environment: environment)
        try LockFiles.replace(
            path: "\(directory)/job.lock",
            bytes: LockFileContent(holder: "a", expiration: clock.now.addingTimeInterval(-5)).encoded())
        let judgement = monitor.judgementCount
        XCTAssertEqual(
            monitor.refreshLock(named: "job.lock").map(\.kind), [.changed, .expired],
            "the change is judged as it is read")
        XCTAssertEqual(monitor.takeChanges().locks, ["job.lock"])
        clock.advance(by: 1)
        XCTAssertEqual(monitor.tick(), [])
        XCTAssertEqual(monitor.takeChanges().locks, [], "and not judged again by the next tick: its row is built once")
        XCTAssertEqual(monitor.judgementCount, judgement, "no tick judged it again")
    }
}
