import Foundation
import XCTest

@testable import LockMonitor

/// A process as a table shows it: its most telling words first, so that workers tell apart.
final class ProcessDetailsTests: XCTestCase {
    func command(_ text: String) -> String {
        ProcessDetails(processID: 1, hostName: "here", startTicks: 1, command: text).shortCommand
    }

    func testFourWorkersTellApartAndTheInterpreterGivesWayToTheScript() {
        let workers = (1...4).map { command("/opt/venv/bin/python3.11 -u /srv/jobs/worker.py run\($0) --fast") }
        XCTAssertEqual(workers.first, "worker.py run1 --fast")
        XCTAssertEqual(Set(workers).count, 4, "\(workers)")
        XCTAssertEqual(command("python -m prefect.engine"), "prefect.engine")
        XCTAssertEqual(command("/usr/bin/sleep 300"), "sleep 300")
        XCTAssertEqual(command("/bin/sh -c trap '' TERM; sleep 300"), "-c trap '' TERM; sleep 300")
        XCTAssertEqual(command("/usr/bin/python3"), "python3", "an interpreter alone is itself")
        let long = command("python flow.py " + String(repeating: "x", count: 100))
        XCTAssertEqual(long.count, ProcessDetails.shortCommandLength)
        XCTAssertTrue(long.hasSuffix("…"))
    }
}
