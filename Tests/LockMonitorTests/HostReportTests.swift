import Foundation
import LockMonitor
import XCTest

/// The agent's report file: what it writes reads back, and what anyone else wrote never crashes
/// a reader or costs it more than the bounds.
final class HostReportTests: XCTestCase {
    let written = Date(timeIntervalSince1970: 1_800_000_000.25)

    func testAReportReadsBackAsWritten() throws {
        var process = ProcessDetails(processID: 4242, hostName: "worker-b", startTicks: 991, command: "python flow.py")
        process.uid = 1000
        process.flowRunID = "9d87db93-4b04-4bf0-90ec-0d6f20a226f9"
        let report = HostReport(
            hostName: "worker-b", bootID: "b00t", writtenAt: written, interval: 2,
            holders: [
                HostReport.Holder(
                    lockName: "a.lock", fingerprint: HostReport.fingerprint(of: Array("x".utf8)), process: process,
                    isAlive: true)
            ], waiters: [HostReport.Waiter(lockName: "a.lock", process: process, since: written)])
        let read = try XCTUnwrap(HostReport(parsing: report.encoded()))
        XCTAssertEqual(read.hostName, "worker-b")
        XCTAssertEqual(read.bootID, "b00t")
        XCTAssertEqual(read.interval, 2)
        XCTAssertEqual(read.holders.first?.lockName, "a.lock")
        XCTAssertEqual(read.holders.first?.process.processID, 4242)
        XCTAssertEqual(read.holders.first?.process.startTicks, 991)
        XCTAssertEqual(read.holders.first?.process.uid, 1000)
        XCTAssertEqual(read.holders.first?.isAlive, true)
        XCTAssertEqual(read.waiters.count, 1)
        XCTAssertEqual(read.writtenAt.timeIntervalSince1970, written.timeIntervalSince1970, accuracy: 0.001)
    }

    func testAnythingElseIsNoReport() {
        let hostile = [
            "", "null", "[]", "{\"schema\": 2, \"host\": \"h\"}", "{\"schema\": 1, \"host\": 3}",
            "{\"schema\": 1, \"host\": \"h\", \"written_at\": \"2026-12-02T10:00:00Z\", \"interval_seconds\": 0}",
            String(repeating: "[", count: 100_000),
        ]
        for text in hostile { XCTAssertNil(HostReport(parsing: Array(text.utf8)), text.prefix(40).description) }
        XCTAssertNil(HostReport(parsing: [UInt8](repeating: 0x20, count: HostReport.maximumSize + 1)))
        // Holders that do not parse are left out; the report stands.
        let partial =
            "{\"schema\": 1, \"host\": \"h\", \"written_at\": \"2026-12-02T10:00:00Z\", \"interval_seconds\": 2, \"holders\": [{\"lock\": 1}, 7]}"
        XCTAssertEqual(HostReport(parsing: Array(partial.utf8))?.holders.count, 0)
    }

    func testAHostNameMakesOneSafeFileName() {
        XCTAssertEqual(HostReport.fileName(forHost: "worker-b.example"), "host-worker-b.example.json")
        XCTAssertEqual(HostReport.fileName(forHost: "../../etc/\u{1B}x"), "host-.._.._etc__x.json")
        XCTAssertTrue(HostReport.isReportName(HostReport.fileName(forHost: "a")))
    }
}
