import Foundation
import LockMonitor
import LocktopTestSupport
import RecordStore
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// What the board makes of reports from a ``HostReportStore`` (Redis): believed whoever owns the
/// lock file, aged by the store's clock, silent once expired, and nothing when filed under
/// another host's name.
final class HostReportBoardTests: XCTestCase {
    /// A store whose answer the test sets.
    final class SetStore: HostReportStore, @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [StoredHostReport] = []
        func set(_ entries: [StoredHostReport]) { lock.withLock { self.entries = entries } }
        func currentReports() -> [StoredHostReport] { lock.withLock { entries } }
        var warning: String? { nil }
    }

    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let bytes = Array(#"{"holder": "0d6f20a2-26f9-4bf0-90ec-9d87db934b04", "expiration": null}"#.utf8)

    func lock(ownedBy owner: UInt32) -> LockEntry {
        var raw = stat()
        raw.st_mode = S_IFREG | 0o644
        raw.st_uid = owner
        raw.st_mtim.tv_sec = Int(now.timeIntervalSince1970 - 30)
        raw.st_size = bytes.count
        return LockEntry(
            name: "k.lock", path: "/d/k.lock", status: FileSystem.Status(raw), bytes: bytes,
            content: LockFileContent(parsing: bytes))
    }

    func report(host: String, alive: Bool) -> HostReport {
        let process = ProcessDetails(processID: 4242, hostName: host, startTicks: 7, command: "python flow.py")
        return HostReport(
            hostName: host, bootID: "b00t", writtenAt: now, interval: 1,
            holders: [
                HostReport.Holder(
                    lockName: "k.lock", fingerprint: HostReport.fingerprint(of: bytes), process: process,
                    isAlive: alive)
            ], waiters: [])
    }

    func testAStoresReportJudgesAnyOwnersLockAndGoesSilentWhenItExpires() throws {
        let store = SetStore()
        let board = HostReportBoard(
            locksDirectory: try DirectoryHandle.open(TestSupport.temporaryDirectory(for: self)), store: store)
        let lock = lock(ownedBy: 1234)

        store.set([StoredHostReport(hostName: "worker-b", report: report(host: "worker-b", alive: true), age: 0.5)])
        board.refresh(storageNow: now)
        let alive = try XCTUnwrap(board.testimony(of: lock, localNow: now))
        XCTAssertEqual(alive.testimony.verdict, .alive)
        XCTAssertEqual(alive.testimony.source, .agent)
        XCTAssertEqual(alive.holder?.processID, 4242)
        XCTAssertEqual(alive.testimony.observedAt.timeIntervalSince(now), -0.5, accuracy: 0.001, "aged by the store")

        store.set([StoredHostReport(hostName: "worker-b", report: report(host: "worker-b", alive: false), age: 0.2)])
        board.refresh(storageNow: now)
        let dead = try XCTUnwrap(board.testimony(of: lock, localNow: now))
        XCTAssertEqual(dead.testimony.verdict, .dead)
        XCTAssertTrue(dead.testimony.reason.contains("reported by worker-b's agent"), dead.testimony.reason)

        // The key expired: the agent is silent, and a watch still knows which lock it spoke of.
        store.set([StoredHostReport(hostName: "worker-b", report: nil, age: 4)])
        board.refresh(storageNow: now)
        let silent = try XCTUnwrap(board.testimony(of: lock, localNow: now))
        XCTAssertEqual(silent.testimony.verdict, .unknown)
        XCTAssertTrue(silent.testimony.reason.hasPrefix("agent on worker-b silent since"), silent.testimony.reason)

        // Gone from the store altogether: nothing.
        store.set([])
        board.refresh(storageNow: now)
        XCTAssertNil(board.testimony(of: lock, localNow: now))
    }

    func testAReportFiledUnderAnotherHostsNameSaysNothing() throws {
        let store = SetStore()
        let board = HostReportBoard(
            locksDirectory: try DirectoryHandle.open(TestSupport.temporaryDirectory(for: self)), store: store)
        store.set([StoredHostReport(hostName: "worker-c", report: report(host: "worker-b", alive: true), age: 0)])
        board.refresh(storageNow: now)
        XCTAssertNil(board.testimony(of: lock(ownedBy: 0), localNow: now))
    }

    func testAReportOlderThanThreeIntervalsIsSilenceEvenBeforeItExpires() throws {
        let store = SetStore()
        let board = HostReportBoard(
            locksDirectory: try DirectoryHandle.open(TestSupport.temporaryDirectory(for: self)), store: store)
        store.set([StoredHostReport(hostName: "worker-b", report: report(host: "worker-b", alive: false), age: 3.5)])
        board.refresh(storageNow: now)
        let silent = try XCTUnwrap(board.testimony(of: lock(ownedBy: 0), localNow: now))
        XCTAssertEqual(silent.testimony.verdict, .unknown, "an old report of a death proves nothing now")
    }
}
