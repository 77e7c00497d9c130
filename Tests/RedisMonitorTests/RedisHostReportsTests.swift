import Foundation
import LocktopTestSupport
import XCTest

@testable import LockMonitor
@testable import RecordStore
@testable import RedisMonitor
@testable import RedisStore

/// Agents' reports in a real Redis, as a one-shot reader sees them.
final class RedisHostReportsTests: XCTestCase {
    func report(of host: String) -> [UInt8] {
        HostReport(
            hostName: host, bootID: "boot-1", writtenAt: Date(), interval: 1, holders: [], waiters: []
        ).encoded()
    }

    func testAnAgentWhoseReportExpiredIsNamedSilentSinceItLastPublished() throws {
        let server = try RedisServer(for: self)
        let url = try RedisURL(server.url())
        let keys = RedisHostReportKeys(connection: try RedisConnection(url: url, timeout: 3))
        let published = Date()
        try keys.publish(report(of: "worker-b\u{1B}[2J"), host: "worker-b\u{1B}[2J", timeToLive: 200)
        try keys.publish(report(of: "worker-c"), host: "worker-c", timeToLive: 60_000)
        usleep(700_000)

        let store = RedisHostReports(url: url, wait: 3)
        let now = Date()
        let notice = try XCTUnwrap(store.silenceNotice(now: now), "worker-b's report expired")
        // Dated by the server's clock, to the second: the one it published in, or a neighbour.
        let times = [-1.0, 0, 1].map { DurationText.timeOfDay(published.addingTimeInterval($0)) }
        XCTAssertTrue(
            times.contains { notice == "agent on worker-b\\x1B[2J silent since \($0)" },
            "named, escaped and dated: \(notice), not at \(times)")
        XCTAssertFalse(notice.contains("worker-c"), "a reporting agent is not silent")
        var environment = MonitorEnvironment.live
        environment.hostReports = store
        XCTAssertEqual(environment.evidenceWarnings, [notice])

        try keys.publish(report(of: "worker-b\u{1B}[2J"), host: "worker-b\u{1B}[2J", timeToLive: 60_000)
        let fresh = RedisHostReports(url: url, wait: 3)
        XCTAssertNil(fresh.silenceNotice(now: Date()), "its agent is back")
    }
}
