import Foundation
import LockMonitor
import XCTest
@testable import Dashboard

final class ReducerTests: XCTestCase {
    func press(_ state: inout DashboardState, _ keys: Key...) -> [DashboardEffect] {
        keys.flatMap { DashboardReducer.reduce(&state, .key($0)) }
    }

    func testDefaultSortIsByExpiryAndSelectionStartsAtTheTop() {
        let state = Fixtures.state()
        XCTAssertEqual(state.visibleRows.map(\.key), ["old", "task", "crashed", "fresh", "garbled", "idle-result"])
        XCTAssertEqual(state.selectedRow?.key, "old")
    }

    func testMovementKeys() {
        var state = Fixtures.state()
        _ = press(&state, .down, .character("j"))
        XCTAssertEqual(state.selectedRow?.key, "crashed")
        _ = press(&state, .character("k"))
        XCTAssertEqual(state.selectedRow?.key, "task")
        _ = press(&state, .end)
        XCTAssertEqual(state.selectedRow?.key, "idle-result")
        _ = press(&state, .home)
        XCTAssertEqual(state.selectedRow?.key, "old")
        _ = press(&state, .pageDown)
        XCTAssertEqual(state.selectedRow?.key, "idle-result")
        _ = press(&state, .pageUp, .up)
        XCTAssertEqual(state.selectedRow?.key, "old")
    }

    func testSortCyclesThroughExpiryKeyAgeState() {
        var state = Fixtures.state()
        _ = press(&state, .character("s"))
        XCTAssertEqual(state.sort, .key)
        XCTAssertEqual(state.visibleRows.map(\.key), ["crashed", "fresh", "garbled", "idle-result", "old", "task"])
        _ = press(&state, .character("s"))
        XCTAssertEqual(state.sort, .age)
        XCTAssertEqual(state.visibleRows.first?.key, "idle-result")
        _ = press(&state, .character("s"))
        XCTAssertEqual(state.sort, .state)
        XCTAssertEqual(state.visibleRows.map(\.key), ["old", "crashed", "garbled", "fresh", "task", "idle-result"])
        _ = press(&state, .character("s"))
        XCTAssertEqual(state.sort, .expiry)
    }

    func testSelectionFollowsTheSameKeyWhenRowsMove() {
        var state = Fixtures.state()
        _ = press(&state, .down)
        XCTAssertEqual(state.selectedRow?.key, "task")
        var task = Fixtures.rows()[0]
        task.expiration = Fixtures.now.addingTimeInterval(9999)
        let added = LockRow(id: "a.lock", key: "a", lockName: "a.lock", state: .expired, reason: "", expiration: Fixtures.now.addingTimeInterval(-99))
        _ = DashboardReducer.reduce(&state, .patch(DashboardPatch(upserts: [task, added], removals: ["old.lock"], recordCount: 5, lockCount: 5)))
        XCTAssertEqual(state.visibleRows.map(\.key), ["a", "task", "crashed", "fresh", "garbled", "idle-result"])
        XCTAssertEqual(state.selectedRow?.key, "task", "the selection followed the key")
        XCTAssertEqual(state.data.count(.expired), 1)
        var full = state
        full.refreshVisibleRows()
        XCTAssertEqual(full.visibleRows, state.visibleRows, "a patch sorts exactly as a full refresh")
        _ = DashboardReducer.reduce(&state, .patch(DashboardPatch(upserts: [], removals: ["task.lock"], recordCount: 5, lockCount: 4)))
        XCTAssertEqual(state.selectedRow?.key, "crashed", "a removed selection moves to the row that took its place")
    }

    func testFilterMovesToFirstMatchEnterKeepsEscClears() {
        var state = Fixtures.state()
        _ = press(&state, .character("/"), .character("w"), .character("e"), .character("b"))
        XCTAssertTrue(state.isEditingFilter)
        XCTAssertEqual(state.visibleRows.map(\.key), ["task", "crashed"], "matches the holder too")
        XCTAssertEqual(state.selectedRow?.key, "task")
        _ = press(&state, .backspace, .backspace, .backspace, .character("c"), .character("r"))
        XCTAssertEqual(state.visibleRows.map(\.key), ["crashed"])
        _ = press(&state, .enter)
        XCTAssertFalse(state.isEditingFilter)
        XCTAssertEqual(state.filter, "cr")
        XCTAssertEqual(press(&state, .character("q")), [.quit], "q quits once the filter is kept")
        var clearing = Fixtures.state()
        _ = press(&clearing, .character("/"), .character("x"), .escape)
        XCTAssertEqual(clearing.filter, "")
        XCTAssertEqual(clearing.visibleRows.count, 6)
    }

    func testReleasingAnExpiredLockAsksThenBreaks() {
        var state = Fixtures.state()
        XCTAssertEqual(press(&state, .character("r")), [])
        guard case .confirmRelease = state.mode else { return XCTFail("\(state.mode)") }
        XCTAssertEqual(press(&state, .character("y")), [.breakLocks(["old.lock"], force: false)])
        XCTAssertEqual(state.mode, .browsing)
    }

    func testALiveLockNeedsTheKeyTypedOrF() {
        var state = Fixtures.state()
        _ = press(&state, .down, .character("r"))
        guard case .confirmForce = state.mode else { return XCTFail("\(state.mode)") }
        XCTAssertEqual(press(&state, .character("y")), [], "y does not force a live lock")
        XCTAssertEqual(press(&state, .backspace, .character("t"), .character("a"), .character("s"), .enter), [])
        XCTAssertEqual(press(&state, .character("k"), .enter), [.breakLocks(["task.lock"], force: true)])
        _ = press(&state, .character("r"))
        XCTAssertEqual(press(&state, .character("F")), [.breakLocks(["task.lock"], force: true)])
        _ = press(&state, .character("r"))
        XCTAssertEqual(press(&state, .character("n")), [])
        XCTAssertEqual(state.mode, .browsing)
        XCTAssertEqual(state.message, "kept task")
    }

    func testBreakAllListsExpiredAndStaleOnly() {
        var state = Fixtures.state()
        _ = press(&state, .character("X"))
        guard case let .confirmBreakAll(rows) = state.mode else { return XCTFail("\(state.mode)") }
        XCTAssertEqual(rows.map(\.key), ["crashed", "old"])
        XCTAssertEqual(press(&state, .escape), [])
        _ = press(&state, .character("X"))
        XCTAssertEqual(press(&state, .character("y")), [.breakLocks(["crashed.lock", "old.lock"], force: false)])
    }

    func testReadOnlyRefusesDestructiveKeys() {
        var state = Fixtures.state(readOnly: true)
        XCTAssertEqual(press(&state, .character("r")), [])
        XCTAssertEqual(state.message, "read-only: releasing is disabled")
        XCTAssertEqual(press(&state, .character("y"), .character("X")), [])
        XCTAssertEqual(state.message, "read-only: breaking is disabled")
        XCTAssertEqual(press(&state, .character("y")), [])
        XCTAssertEqual(state.mode, .browsing)
    }

    func testPanesHelpAndEvents() {
        var state = Fixtures.state()
        _ = press(&state, .enter)
        XCTAssertTrue(state.showsDetail)
        _ = press(&state, .character("e"))
        XCTAssertFalse(state.showsEvents)
        _ = press(&state, .character("?"))
        XCTAssertEqual(state.mode, .help)
        _ = press(&state, .character("z"))
        XCTAssertEqual(state.mode, .browsing)
        _ = DashboardReducer.reduce(&state, .events(Array(repeating: Fixtures.events()[0], count: 600)))
        XCTAssertEqual(state.events.count, DashboardState.eventLimit)
    }

    func testScrollKeepsTheSelectionVisible() {
        let data = DashboardData(recordsDirectory: "/r", locksDirectory: "/r", watch: "inotify",
                                 rows: (0..<100).map { LockRow(id: "k\($0).lock", key: String(format: "k%03d", $0), lockName: "k\($0).lock", state: .held, reason: "held") },
                                 recordCount: 0, lockCount: 100)
        var state = DashboardState(data: data, now: Fixtures.now, width: 80, height: 24)
        let height = DashboardReducer.tableHeight(state)
        for _ in 0..<(height + 5) { _ = press(&state, .down) }
        XCTAssertEqual(state.selectedIndex, height + 5)
        XCTAssertEqual(state.scrollOffset, 6)
        _ = DashboardReducer.reduce(&state, .resize(width: 80, height: 12))
        let small = DashboardReducer.tableHeight(state)
        XCTAssertLessThanOrEqual(state.scrollOffset, state.selectedIndex!)
        XCTAssertGreaterThan(state.scrollOffset + small, state.selectedIndex!)
    }
}
