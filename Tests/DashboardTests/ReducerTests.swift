import Foundation
import LockMonitor
import RecordStore
import XCTest

@testable import Dashboard

final class ReducerTests: XCTestCase {
    func press(_ state: inout DashboardState, _ keys: Key...) -> [DashboardEffect] {
        keys.flatMap { DashboardReducer.reduce(&state, .key($0)) }
    }

    func testDChoosesALockOfTheDeadlockAndConfirmsItsBreakAsRDoes() {
        var state = Fixtures.state()
        _ = press(&state, .character("D"))
        XCTAssertEqual(state.mode, .browsing)
        XCTAssertEqual(state.message, "no deadlock is seen")
        let deadlock = WaitForGraph.Deadlock(
            links: [
                .init(lockName: "task.lock", holderProcessID: 4242, holderCommand: "python a.py"),
                .init(lockName: "old.lock", holderProcessID: 4250, holderCommand: "python b.py"),
            ], isCertain: true)
        state.data.deadlocks = [deadlock]
        _ = press(&state, .character("D"))
        XCTAssertEqual(state.mode, .chooseDeadlockLock(deadlock))
        let dialog = DashboardRenderer.render(state).text
        XCTAssertTrue(dialog.contains("Deadlock: task ⇄ old (pid 4242, pid 4250)"), dialog)
        XCTAssertTrue(dialog.contains("1  task, held by pid 4242 python a.py"), dialog)
        _ = press(&state, .character("7"))
        XCTAssertEqual(state.mode, .chooseDeadlockLock(deadlock), "no such lock in the cycle")
        _ = press(&state, .character("1"))
        guard case .confirmForce(let row, typed: "") = state.mode else {
            return XCTFail("a live lock is forced with its key typed: \(state.mode)")
        }
        XCTAssertEqual(row.key, "task")
        _ = press(&state, .escape, .character("D"), .character("2"))
        guard case .confirmRelease(let expired) = state.mode else { return XCTFail("\(state.mode)") }
        XCTAssertEqual(expired.key, "old", "an expired one goes with y")
        _ = press(&state, .escape, .character("D"), .escape)
        XCTAssertEqual(state.message, "nothing broken")
        var readOnly = Fixtures.state(readOnly: true)
        readOnly.data.deadlocks = [deadlock]
        _ = press(&readOnly, .character("D"))
        XCTAssertEqual(readOnly.mode, .browsing)
    }

    func testDefaultSortIsByExpiryAndSelectionStartsAtTheTop() {
        let state = Fixtures.state()
        XCTAssertEqual(state.visibleRows.map(\.key), ["old", "task", "crashed", "fresh", "garbled", "idle-result"])
        XCTAssertEqual(state.selectedRow?.key, "old")
    }

    func testMovementKeys() {
        var state = Fixtures.state()
        _ = press(&state, .down, .down)
        XCTAssertEqual(state.selectedRow?.key, "crashed")
        _ = press(&state, .up)
        XCTAssertEqual(state.selectedRow?.key, "task")
        _ = press(&state, .character("j"))
        XCTAssertEqual(state.selectedRow?.key, "task", "j and k are not moves: k signals, as htop's does")
        _ = press(&state, .end)
        XCTAssertEqual(state.selectedRow?.key, "idle-result")
        _ = press(&state, .home)
        XCTAssertEqual(state.selectedRow?.key, "old")
        _ = press(&state, .pageDown)
        XCTAssertEqual(state.selectedRow?.key, "idle-result")
        _ = press(&state, .pageUp, .up)
        XCTAssertEqual(state.selectedRow?.key, "old")
    }

    func testSortCyclesThroughExpiryKeyAgeStateWait() {
        var state = Fixtures.state()
        _ = press(&state, .character("s"))
        XCTAssertEqual(state.sort, .key)
        XCTAssertEqual(
            state.visibleRows.map(\.key), ["crashed", "fresh", "garbled", "old", "task", "idle-result"],
            "every lock row comes before every record row")
        _ = press(&state, .character("s"))
        XCTAssertEqual(state.sort, .age)
        XCTAssertEqual(state.visibleRows.first?.key, "crashed")
        XCTAssertEqual(state.visibleRows.last?.key, "idle-result")
        _ = press(&state, .character("s"))
        XCTAssertEqual(state.sort, .state)
        XCTAssertEqual(state.visibleRows.map(\.key), ["old", "crashed", "garbled", "fresh", "task", "idle-result"])
        _ = press(&state, .character("s"))
        XCTAssertEqual(state.sort, .wait)
        XCTAssertEqual(state.visibleRows.first?.key, "crashed", "the lock with waiters first")
        for sort in [SortOrder.waiting, .holdP95, .rate, .hot] {
            _ = press(&state, .character("s"))
            XCTAssertEqual(state.sort, sort)
        }
        _ = press(&state, .character("s"))
        XCTAssertEqual(state.sort, .expiry)
    }

    func testHotSortsByTimeWaitedLatelyAndRateByAcquisitionsInTheLastMinute() {
        var state = Fixtures.state()
        var rows = state.data.rows
        for index in rows.indices where rows[index].lockName != nil {
            rows[index].waitedRecently = rows[index].key == "old" ? 50 : rows[index].key == "fresh" ? 10 : 0
            rows[index].acquisitionsPerMinute = rows[index].key == "garbled" ? 30 : 0
        }
        _ = DashboardReducer.reduce(
            &state,
            .data(
                DashboardData(
                    recordsDirectory: state.data.recordsDirectory, locksDirectory: state.data.locksDirectory,
                    watch: state.data.watch, rows: rows, recordCount: state.data.recordCount,
                    lockCount: state.data.lockCount)))
        state.sort = .hot
        state.refreshVisibleRows()
        XCTAssertEqual(Array(state.visibleRows.map(\.key).prefix(2)), ["old", "fresh"])
        state.sort = .rate
        state.refreshVisibleRows()
        XCTAssertEqual(state.visibleRows.first?.key, "garbled")
    }

    func testInvertReversesEachGroupAndTheHeaderAndStatusLineAgree() {
        var state = Fixtures.state()
        _ = press(&state, .character("s"))
        _ = press(&state, .character("I"))
        XCTAssertTrue(state.isSortDescending)
        XCTAssertEqual(
            state.visibleRows.map(\.key), ["task", "old", "garbled", "fresh", "crashed", "idle-result"],
            "the locks run backwards; records stay after them")
        XCTAssertEqual(state.message, "sorted by key ▾")
        var full = state
        full.refreshVisibleRows()
        var moved = Fixtures.rows()[0]
        moved.key = "aaa"
        _ = DashboardReducer.reduce(
            &state, .patch(DashboardPatch(upserts: [moved], removals: [], recordCount: 5, lockCount: 5)))
        XCTAssertEqual(
            state.visibleRows.map(\.key), ["old", "garbled", "fresh", "crashed", "aaa", "idle-result"],
            "a patch inserts in the inverted order")
        state.message = nil
        let screen = DashboardRenderer.render(state).text
        XCTAssertTrue(screen.contains("KEY▾"), screen)
        XCTAssertTrue(screen.contains("sort: key ▾"), screen)
        _ = press(&state, .character("I"))
        XCTAssertTrue(DashboardRenderer.render(state).text.contains("KEY▴"))
        XCTAssertEqual(state.message, "sorted by key ▴")
    }

    func testRecordsToggleHidesRecordRowsButTheHeaderCountsThem() {
        var state = Fixtures.state()
        _ = press(&state, .end)
        XCTAssertEqual(state.selectedRow?.key, "idle-result")
        _ = press(&state, .character("R"))
        XCTAssertFalse(state.visibleRows.contains { $0.lockName == nil })
        XCTAssertEqual(state.visibleRows.count, 5)
        XCTAssertNotNil(state.selectedRow, "the selection moves to a row still shown")
        let screen = DashboardRenderer.render(state).text
        XCTAssertTrue(screen.contains("records 5"), screen)
        _ = DashboardReducer.reduce(
            &state,
            .patch(
                DashboardPatch(
                    upserts: [LockRow(id: .record("late"), key: "late", lockName: nil, state: nil, reason: "no lock")],
                    removals: [], recordCount: 6, lockCount: 5)))
        XCTAssertFalse(state.visibleRows.contains { $0.key == "late" }, "a record patched in stays hidden")
        _ = press(&state, .character("R"))
        XCTAssertEqual(state.visibleRows.suffix(2).map(\.key), ["idle-result", "late"])
    }

    func testFreezeHoldsRowsAndClockWhileEventsQueueThenAppliesInOrder() {
        var state = Fixtures.state()
        _ = press(&state, .down)
        let selected = state.selectedRow?.key
        _ = press(&state, .character("Z"))
        XCTAssertTrue(state.isFrozen)
        XCTAssertTrue(DashboardRenderer.render(state).text.contains("FROZEN"))
        let rows = state.visibleRows
        _ = DashboardReducer.reduce(
            &state, .patch(DashboardPatch(upserts: [], removals: [.lock("task.lock")], recordCount: 5, lockCount: 4)))
        let added = LockRow(
            id: .lock("a.lock"), key: "a", lockName: "a.lock", state: .expired, reason: "",
            expiration: Fixtures.now.addingTimeInterval(-99))
        _ = DashboardReducer.reduce(
            &state, .patch(DashboardPatch(upserts: [added], removals: [], recordCount: 5, lockCount: 5)))
        let brief = LockRow(id: .lock("b.lock"), key: "b", lockName: "b.lock", state: .held, reason: "")
        _ = DashboardReducer.reduce(
            &state,
            .patch(DashboardPatch(upserts: [brief], removals: [.lock("garbled.lock")], recordCount: 5, lockCount: 5)))
        let garbled = try! XCTUnwrap(state.data.row(withID: .lock("garbled.lock")))
        _ = DashboardReducer.reduce(
            &state,
            .patch(DashboardPatch(upserts: [garbled], removals: [.lock("b.lock")], recordCount: 5, lockCount: 5)))
        _ = DashboardReducer.reduce(&state, .tick(Fixtures.now.addingTimeInterval(60)))
        let eventCount = state.events.count
        _ = DashboardReducer.reduce(&state, .events([MonitorEvent(time: Fixtures.now, kind: .acquired, key: "a")]))
        XCTAssertEqual(state.visibleRows, rows, "the rows hold still")
        XCTAssertEqual(state.selectedRow?.key, selected)
        XCTAssertEqual(state.now, Fixtures.now, "the clock holds too")
        XCTAssertEqual(state.events.count, eventCount + 1, "events still queue")
        _ = press(&state, .character(" "))
        XCTAssertFalse(state.isFrozen)
        XCTAssertNotNil(
            state.visibleRows.first { $0.key == "task" }?.releasedAt, "a lock released while frozen keeps a free row")
        XCTAssertEqual(state.visibleRows.first?.key, "a", "held patches applied in order")
        XCTAssertFalse(state.visibleRows.contains { $0.key == "b" }, "a row that came and went while frozen stays gone")
        XCTAssertTrue(state.visibleRows.contains { $0.key == "garbled" }, "a row that went and came back is there")
    }

    func testABreakReportsItsOutcomesAsValuesAndTheStatusLineSaysThem() {
        var state = Fixtures.state()
        _ = DashboardReducer.reduce(
            &state, .breakFinished([BreakOutcome(lockName: "old.lock")], auditLog: "/state/audit.log"))
        XCTAssertEqual(state.message, "broke old; logged to /state/audit.log")
        _ = DashboardReducer.reduce(
            &state,
            .breakFinished([BreakOutcome(lockName: "a.lock"), BreakOutcome(lockName: "b.lock")], auditLog: "/l"))
        XCTAssertEqual(state.message, "broke 2 locks; logged to /l")
        _ = DashboardReducer.reduce(
            &state,
            .breakFinished(
                [
                    BreakOutcome(lockName: "a.lock", failure: .operation(.changedSinceJudged(key: "a"))),
                    BreakOutcome(lockName: "b.lock", failure: .source("b is away")),
                ], auditLog: "/l"))
        XCTAssertEqual(state.message, "2 not broken; first: lock \"a\" changed since it was shown; not broken")
    }

    func testCCopiesTheSelectedKeyAndShiftCTheLockFilePath() {
        var state = Fixtures.state()
        _ = press(&state, .down)
        XCTAssertEqual(press(&state, .character("c")), [.copy("task")])
        XCTAssertEqual(state.message, "copied task to the clipboard (OSC 52)")
        XCTAssertEqual(press(&state, .character("C")), [.copy("\(state.data.locksDirectory)/task.lock")])
        _ = press(&state, .end)
        XCTAssertEqual(
            press(&state, .character("C")), [.copy("\(state.data.recordsDirectory)/idle-result")], "a record's own path"
        )
    }

    func testTabFocusesTheEventLogWhichGrowsAndScrollsWhileTheSelectionStays() {
        var state = Fixtures.state()
        let many = (0..<40).map {
            MonitorEvent(time: Fixtures.now.addingTimeInterval(Double($0)), kind: .acquired, key: "k\($0)")
        }
        _ = DashboardReducer.reduce(&state, .events(many))
        let selected = state.selectedID
        let unfocused = DashboardLayout(state: state).events?.height ?? 0
        _ = press(&state, .tab)
        XCTAssertTrue(state.focusesEvents)
        XCTAssertGreaterThan(
            DashboardLayout(state: state).events?.height ?? 0, unfocused, "the focused log takes more room")
        _ = press(&state, .up, .up, .up)
        XCTAssertEqual(state.eventScroll, 3)
        XCTAssertEqual(state.selectedID, selected, "the moves scroll the log, not the table")
        var screen = DashboardRenderer.render(state).text
        XCTAssertTrue(screen.contains("events (focused; 3 newer below; Tab leaves)"), screen)
        XCTAssertTrue(screen.contains("acquired  k36") && !screen.contains("acquired  k37"), screen)
        _ = press(&state, .home)
        screen = DashboardRenderer.render(state).text
        XCTAssertTrue(screen.contains("released  task"), "Home reaches the oldest: \(screen)")
        _ = press(&state, .tab)
        XCTAssertFalse(state.focusesEvents)
        XCTAssertEqual(state.eventScroll, 0, "leaving follows the newest again")
        _ = press(&state, .down)
        XCTAssertNotEqual(state.selectedID, selected)
    }

    func testTheDetailPaneTakesTheRoomItNeedsAndTabFocusesItToScroll() {
        var state = Fixtures.state(width: 80, height: 24)
        state.selectedID = .lock("crashed.lock")
        _ = press(&state, .enter, .character("e"))
        let lines = DashboardRenderer.detailText(state)
        XCTAssertGreaterThan(lines.count, 10)
        let layout = DashboardLayout(state: state)
        XCTAssertEqual(layout.table.height, 3, "the table gives way to the pane, down to 3 rows")
        XCTAssertEqual(layout.detail?.height, min(lines.count + 1, layout.status.top - layout.table.top - 3))
        let shown = (layout.detail?.height ?? 0) - 1
        XCTAssertLessThan(shown, lines.count, "at 80x24 this row has more lines than the screen")
        var screen = DashboardRenderer.render(state).text
        XCTAssertTrue(screen.contains("\(lines.count - shown) more lines below: Tab to scroll)"), screen)
        XCTAssertFalse(screen.contains("contention:"), screen)
        // Tab: the detail pane first (the log next), and the moves scroll it, not the table.
        _ = press(&state, .tab)
        XCTAssertEqual(state.focus, .detail)
        _ = press(&state, .end)
        XCTAssertEqual(state.selectedID, .lock("crashed.lock"))
        screen = DashboardRenderer.render(state).text
        XCTAssertTrue(screen.contains("contention: 0 acquisitions"), screen)
        XCTAssertTrue(screen.contains("(focused; lines "), screen)
        XCTAssertTrue(screen.contains("of \(DashboardRenderer.detailText(state).count); Tab moves on)"), screen)
        _ = press(&state, .home)
        XCTAssertEqual(state.detailScroll, 0)
        _ = press(&state, .down, .down)
        XCTAssertEqual(state.detailScroll, 2)
        _ = DashboardReducer.reduce(&state, .wheel(lines: -1))
        XCTAssertEqual(state.detailScroll, 1, "the wheel scrolls the focused pane")
        _ = press(&state, .tab)
        XCTAssertEqual(state.focus, .events)
        _ = press(&state, .tab)
        XCTAssertEqual(state.focus, .table)
        _ = press(&state, .down)
        XCTAssertEqual(state.detailScroll, 0, "another row's details start at the top")
        _ = press(&state, .tab)
        _ = press(&state, .enter)
        XCTAssertEqual(state.focus, .table, "a pane that closes gives the moves back to the table")
    }

    func testAClickSelectsTheRowUnderItAndTheWheelMoves() {
        var state = Fixtures.state()
        let top = DashboardLayout(state: state).table.top
        _ = DashboardReducer.reduce(&state, .click(x: 5, y: top + 2))
        XCTAssertEqual(state.selectedRow?.key, state.visibleRows[2].key)
        _ = DashboardReducer.reduce(&state, .click(x: 5, y: 0))
        XCTAssertEqual(state.selectedRow?.key, state.visibleRows[2].key, "a click outside the table selects nothing")
        _ = DashboardReducer.reduce(&state, .wheel(lines: 3))
        XCTAssertEqual(state.selectedRow?.key, state.visibleRows[5].key)
        _ = DashboardReducer.reduce(&state, .wheel(lines: -9))
        XCTAssertEqual(state.selectedRow?.key, state.visibleRows[0].key)
    }

    func testTheRecordsDividerTakesALineThatClicksAndScrollingStepOver() {
        var state = Fixtures.state()
        let divider = try! XCTUnwrap(state.recordDividerIndex)
        XCTAssertEqual(state.visibleRows[divider].key, "idle-result")
        XCTAssertTrue(state.visibleRows[..<divider].allSatisfy { $0.lockName != nil }, "every lock row comes first")
        let top = DashboardLayout(state: state).table.top
        let selected = state.selectedID
        _ = DashboardReducer.reduce(&state, .click(x: 5, y: top + divider))
        XCTAssertEqual(state.selectedID, selected, "the divider line selects nothing")
        _ = DashboardReducer.reduce(&state, .click(x: 5, y: top + divider + 1))
        XCTAssertEqual(state.selectedRow?.key, "idle-result", "the line under the divider is the first record")
        XCTAssertTrue(DashboardRenderer.render(state).text.contains("─ records without a lock ─"))

        // In a short table, the last row stays in view with the divider above it counted.
        _ = DashboardReducer.reduce(&state, .resize(width: 80, height: 12))
        let height = DashboardReducer.tableHeight(state)
        _ = press(&state, .end)
        let viewport = TableViewport(state: state, height: height)
        XCTAssertEqual(viewport.rows.last, state.visibleRows.count - 1, "\(viewport.lines)")
        XCTAssertLessThanOrEqual(viewport.lines.count, height)
        _ = press(&state, .character("R"))
        XCTAssertNil(state.recordDividerIndex, "no divider with the records hidden")
        XCTAssertEqual(
            TableViewport.offset(showing: 9, from: 0, count: 10, height: 4, divider: 6), 7,
            "the divider and rows 6 to 9 would take 5 lines")
        XCTAssertEqual(
            TableViewport.offset(showing: 6, from: 0, count: 10, height: 4, divider: 6), 4,
            "row 6 under its divider on the last line")
        XCTAssertEqual(TableViewport.offset(showing: 2, from: 5, count: 10, height: 4, divider: 6), 2)
    }

    func testEveryKeyOfTheTableIsBoundOnceAndListedInTheHelp() {
        var seen: [Key] = []
        for binding in KeyBindings.all {
            for key in binding.keys {
                XCTAssertFalse(seen.contains(key), "\(key) is bound twice")
                seen.append(key)
                XCTAssertEqual(KeyBindings.action(for: key), binding.action)
            }
        }
        var state = Fixtures.state()
        _ = press(&state, .character("?"))
        let help = DashboardRenderer.render(state).text
        for binding in KeyBindings.all {
            XCTAssertTrue(
                help.contains(binding.keyText) && help.contains(binding.help),
                "\(binding.keyText) missing from the help")
        }
        XCTAssertTrue(KeyBindings.summary.contains("Z Space freeze"))
        var readOnly = Fixtures.state(readOnly: true)
        XCTAssertTrue(DashboardRenderer.render(readOnly).text.contains("Quit"))
        XCTAssertFalse(
            DashboardRenderer.render(readOnly).text.contains("Release"),
            "read-only hides destructive keys from the footer")
        _ = press(&readOnly, .character("?"))
        XCTAssertTrue(DashboardRenderer.render(readOnly).text.contains("disabled (--read-only)"))
    }

    func testSelectionFollowsTheSameKeyWhenRowsMove() {
        var state = Fixtures.state()
        _ = press(&state, .down)
        XCTAssertEqual(state.selectedRow?.key, "task")
        var task = Fixtures.rows()[0]
        task.expiration = Fixtures.now.addingTimeInterval(9999)
        let added = LockRow(
            id: .lock("a.lock"), key: "a", lockName: "a.lock", state: .expired, reason: "",
            expiration: Fixtures.now.addingTimeInterval(-99))
        _ = DashboardReducer.reduce(
            &state,
            .patch(DashboardPatch(upserts: [task, added], removals: [.lock("old.lock")], recordCount: 5, lockCount: 5)))
        XCTAssertEqual(
            state.visibleRows.map(\.key), ["a", "old", "task", "crashed", "fresh", "garbled", "idle-result"],
            "the released old keeps a free row where it was")
        XCTAssertEqual(state.selectedRow?.key, "task", "the selection followed the key")
        XCTAssertEqual(state.data.count(.expired), 1)
        var full = state
        full.refreshVisibleRows()
        XCTAssertEqual(full.visibleRows, state.visibleRows, "a patch sorts exactly as a full refresh")
        _ = DashboardReducer.reduce(
            &state, .patch(DashboardPatch(upserts: [], removals: [.lock("task.lock")], recordCount: 5, lockCount: 4)))
        XCTAssertEqual(state.selectedRow?.key, "task", "a released lock keeps its row and the cursor for a moment")
        _ = DashboardReducer.reduce(&state, .tick(Fixtures.now.addingTimeInterval(6)))
        XCTAssertEqual(state.selectedRow?.key, "crashed", "once gone for good, the row that took its place")
    }

    func testRandomPatchesSortExactlyAsAFullRefreshInEveryOrder() {
        var generator = SystemRandomNumberGenerator()
        for sort in SortOrder.allCases {
            for descending in [false, true] {
                var state = Fixtures.state()
                state.sort = sort
                state.isSortDescending = descending
                state.refreshVisibleRows()
                for round in 0..<60 {
                    var upserts: [LockRow] = []
                    var removals: Set<RowID> = []
                    for _ in 0..<Int.random(in: 1...6, using: &generator) {
                        let index = Int.random(in: 0..<12, using: &generator)
                        let isRecord = index >= 8
                        let id: RowID = isRecord ? .record("r\(index)") : .lock("l\(index).lock")
                        if Bool.random(using: &generator) && round % 3 == 0 {
                            removals.insert(id)
                        } else {
                            upserts.append(
                                LockRow(
                                    id: id, key: isRecord ? "r\(index)" : "l\(index)", lockName: id.lockName,
                                    state: isRecord ? nil : LockState.allCases.randomElement(using: &generator),
                                    reason: "",
                                    expiration: Bool.random()
                                        ? nil : Fixtures.now.addingTimeInterval(Double.random(in: -99...99)),
                                    since: Fixtures.now.addingTimeInterval(-Double(Int.random(in: 0...3)))))
                        }
                    }
                    let unique = Dictionary(upserts.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
                    _ = DashboardReducer.reduce(
                        &state,
                        .patch(
                            DashboardPatch(
                                upserts: Array(unique.values),
                                removals: removals.subtracting(unique.keys),
                                recordCount: 5, lockCount: 5)))
                    var full = state
                    full.refreshVisibleRows()
                    XCTAssertEqual(
                        state.visibleRows.map(\.id), full.visibleRows.map(\.id),
                        "\(sort) descending \(descending) round \(round)")
                }
            }
        }
    }

    func testTheCursorStaysOnItsKeyAcrossAHandOffAndSaysWhereItWentWhenTheKeyIsGone() {
        func lock(_ key: String, records: [String] = []) -> LockRow {
            LockRow(
                id: .lock("\(key).lock"), key: key, lockName: "\(key).lock", state: .held, reason: "held",
                since: Fixtures.now, records: records)
        }
        func record(_ key: String) -> LockRow {
            LockRow(id: .record(key), key: key, lockName: nil, state: nil, reason: "", records: [key])
        }
        var state = DashboardState(
            data: DashboardData(
                recordsDirectory: "/r", locksDirectory: "/r", watch: "inotify",
                rows: [lock("aa", records: ["aa"]), lock("bb", records: ["bb"]), lock("cc")], recordCount: 2,
                lockCount: 3),
            now: Fixtures.now, width: 120, height: 35)
        state.sort = .key
        state.refreshVisibleRows()
        state.selectedID = .lock("aa.lock")
        // Released: its record's row replaces the lock's, and the cursor stays on the key.
        state.apply(DashboardPatch(upserts: [record("aa")], removals: [.lock("aa.lock")], recordCount: 2, lockCount: 2))
        XCTAssertEqual(state.selectedID, .lock("aa.lock"), "a released lock keeps its row, as free")
        XCTAssertEqual(state.selectedRow?.releasedAt, Fixtures.now)
        XCTAssertFalse(state.visibleRows.contains { $0.id == .record("aa") }, "its record's row waits behind it")
        // Taken again: back on the lock, not on bb, so `r` cannot land on the neighbour.
        state.apply(
            DashboardPatch(
                upserts: [lock("aa", records: ["aa"])], removals: [.record("aa")], recordCount: 2, lockCount: 3))
        XCTAssertEqual(state.selectedID, .lock("aa.lock"))
        XCTAssertNil(state.message)
        // A lock with no record keeps its row too, and is itself again when taken again.
        state.selectedID = .lock("cc.lock")
        state.apply(DashboardPatch(upserts: [], removals: [.lock("cc.lock")], recordCount: 2, lockCount: 2))
        XCTAssertEqual(state.selectedID, .lock("cc.lock"))
        XCTAssertNil(state.message)
        state.now = Fixtures.now.addingTimeInterval(1)
        state.apply(DashboardPatch(upserts: [lock("cc")], removals: [], recordCount: 2, lockCount: 3))
        XCTAssertEqual(state.selectedID, .lock("cc.lock"), "back within the grace")
        XCTAssertNil(state.selectedRow?.releasedAt)
        // An operator's outcome is not replaced by where the cursor went.
        state.message = "broke cc"
        state.apply(DashboardPatch(upserts: [], removals: [.lock("cc.lock")], recordCount: 2, lockCount: 2))
        XCTAssertEqual(state.message, "broke cc")
        state.apply(DashboardPatch(upserts: [lock("cc")], removals: [], recordCount: 2, lockCount: 3))
        XCTAssertEqual(state.selectedID, .lock("cc.lock"))
        XCTAssertEqual(state.message, "broke cc")
        // Gone for good: after the grace the cursor moves to a neighbour and says so, and a later
        // return does not take it back.
        state.message = nil
        state.apply(DashboardPatch(upserts: [], removals: [.lock("cc.lock")], recordCount: 2, lockCount: 2))
        _ = DashboardReducer.reduce(&state, .tick(Fixtures.now.addingTimeInterval(10)))
        XCTAssertEqual(state.selectedID, .lock("bb.lock"))
        XCTAssertEqual(state.message, "cc is gone; the cursor moved to bb")
        state.now = Fixtures.now.addingTimeInterval(11)
        state.apply(DashboardPatch(upserts: [lock("cc")], removals: [], recordCount: 2, lockCount: 3))
        XCTAssertEqual(state.selectedID, .lock("bb.lock"))
        // A record selected when its lock is taken: the cursor follows the key to the lock.
        state.apply(DashboardPatch(upserts: [], removals: [.lock("aa.lock")], recordCount: 2, lockCount: 2))
        _ = DashboardReducer.reduce(&state, .tick(Fixtures.now.addingTimeInterval(20)))
        state.apply(DashboardPatch(upserts: [record("aa")], removals: [], recordCount: 2, lockCount: 2))
        state.selectedID = .record("aa")
        state.apply(
            DashboardPatch(
                upserts: [lock("aa", records: ["aa"])], removals: [.record("aa")], recordCount: 2, lockCount: 3))
        XCTAssertEqual(state.selectedID, .lock("aa.lock"))
    }

    func testKOffersToSignalALiveLocalHolderSigtermThenSigkillAndRefusesWhatItMayNot() {
        var process = ProcessDetails(
            processID: 4242, hostName: "web-1", startTicks: 99, command: "/usr/bin/python3 worker.py run1", user: "etl")
        process.uid = 1000
        let row = LockRow(
            id: .lock("work.lock"), key: "work", lockName: "work.lock", state: .held, reason: "alive",
            holder: LockHolder("0f5c6a2e-9d3b-4c1a-8e7f-112233445566"), liveness: .alive, since: Fixtures.now,
            lockBytes: Array("{}".utf8), holderProcess: process, identitySource: .fanotify)
        func state(uid: UInt32?, readOnly: Bool = false) -> DashboardState {
            var state = DashboardState(
                data: DashboardData(
                    recordsDirectory: "/srv/locks", locksDirectory: "/srv/locks", watch: "inotify",
                    rows: [row, Fixtures.rows()[1]], recordCount: 0, lockCount: 2),
                now: Fixtures.now, width: 80, height: 24, isReadOnly: readOnly)
            state.operatorUID = uid
            state.selectedID = row.id
            return state
        }
        var readOnly = state(uid: 1000, readOnly: true)
        XCTAssertEqual(press(&readOnly, .character("k")), [])
        XCTAssertEqual(readOnly.message, "read-only: signalling is disabled")
        var stranger = state(uid: 1001)
        _ = press(&stranger, .character("k"))
        XCTAssertEqual(stranger.mode, .browsing)
        XCTAssertEqual(stranger.message, "pid 4242 belongs to etl; only root signals another user's process")
        var unknown = state(uid: 0)
        unknown.selectedID = .lock("old.lock")
        _ = press(&unknown, .character("k"))
        XCTAssertEqual(unknown.message, "old: its holder is not a live process known on this host; nothing to signal")

        var owner = state(uid: 1000)
        _ = press(&owner, .character("k"))
        let target = HolderSignal.Target(
            processID: 4242, startTicks: 99, command: "/usr/bin/python3 worker.py run1", key: "work",
            lockFile: "/srv/locks/work.lock", holder: "0f5c6a2e-9d3b-4c1a-8e7f-112233445566")
        XCTAssertEqual(owner.mode, .confirmSignal(row, target, .terminate))
        let dialog = DashboardRenderer.render(owner).text
        XCTAssertTrue(dialog.contains("Send SIGTERM to the holder of work?"), dialog)
        XCTAssertTrue(dialog.contains("Command: /usr/bin/python3 worker.py run1"), dialog)
        _ = press(&owner, .escape)
        XCTAssertEqual(owner.message, "kept pid 4242 running")
        XCTAssertEqual(press(&owner, .character("k"), .character("y")), [.signalHolder(target, .terminate)])
        _ = DashboardReducer.reduce(
            &owner, .signalFinished(target, .terminate, failure: nil, auditLog: "/state/locktop/audit.log"))
        XCTAssertEqual(
            owner.message,
            "sent SIGTERM to pid 4242 (holder of work); logged to /state/locktop/audit.log; k again offers SIGKILL")
        _ = DashboardReducer.reduce(&owner, .tick(Fixtures.now.addingTimeInterval(4)))
        _ = press(&owner, .character("k"))
        XCTAssertEqual(owner.mode, .confirmSignal(row, target, .kill), "still there after SIGTERM: SIGKILL")
        XCTAssertTrue(DashboardRenderer.render(owner).text.contains("It had SIGTERM 4s ago and still runs"))
        // The lock changes hands while the dialog is open: nothing is sent.
        var next = row
        next.lockBytes = Array(#"{"holder": "next"}"#.utf8)
        _ = DashboardReducer.reduce(
            &owner, .patch(DashboardPatch(upserts: [next], removals: [], recordCount: 0, lockCount: 2)))
        XCTAssertEqual(press(&owner, .character("y")), [])
        XCTAssertEqual(owner.message, "not sent: the lock work changed while the dialog was open; look again")
        _ = DashboardReducer.reduce(
            &owner,
            .signalFinished(
                target, .kill, failure: "pid 4242 is gone (or is another process now): nothing sent", auditLog: "/a"))
        XCTAssertEqual(owner.message, "not sent: pid 4242 is gone (or is another process now): nothing sent")
    }

    func testAReleasedLockKeepsItsRowAndFiguresThroughAHandOffThenGivesWayToItsRecord() {
        var statistics = ContentionStatistics()
        statistics.recordAcquisition(holder: "a", at: Fixtures.now.addingTimeInterval(-8))
        statistics.recordRelease(holder: "a", acquired: Fixtures.now.addingTimeInterval(-8), at: Fixtures.now)
        let held = LockRow(
            id: .lock("orders.lock"), key: "orders", lockName: "orders.lock", state: .held, reason: "held",
            holder: LockHolder("web-1:4242:1:MainThread"), liveness: .alive, since: Fixtures.now.addingTimeInterval(-8),
            records: ["orders"], lockBytes: Array("{}".utf8), statistics: statistics)
        var state = DashboardState(
            data: DashboardData(
                recordsDirectory: "/r", locksDirectory: "/r", watch: "inotify", rows: [held], recordCount: 1,
                lockCount: 1),
            now: Fixtures.now, width: 120, height: 35)
        _ = press(&state, .enter)
        let record = LockRow(
            id: .record("orders"), key: "orders", lockName: nil, state: nil, reason: "no lock", records: ["orders"])
        _ = DashboardReducer.reduce(
            &state,
            .patch(DashboardPatch(upserts: [record], removals: [.lock("orders.lock")], recordCount: 1, lockCount: 0)))
        XCTAssertEqual(state.visibleRows.map(\.id), [.lock("orders.lock")], "one row: the lock, free")
        XCTAssertEqual(state.data.lockCount, 0, "the counts say what is there")
        XCTAssertEqual(state.data.count(.held), 0)
        _ = DashboardReducer.reduce(&state, .tick(Fixtures.now.addingTimeInterval(2)))
        let screen = DashboardRenderer.render(state).text
        XCTAssertTrue(screen.contains("free 2s"), screen)
        XCTAssertTrue(screen.contains("orders.lock is free, for 2s now (last held by web-1/4242)"), screen)
        XCTAssertTrue(screen.contains("contention: 1 acquisition, 0 hand-offs, hold last 8.00s"), screen)
        XCTAssertEqual(press(&state, .character("r")), [])
        XCTAssertEqual(state.message, "orders is free: its lock file is gone; nothing to release")
        XCTAssertTrue(state.data.rows.filter(\.isBreakableWithoutForce).isEmpty)
        state.message = nil
        // Its last hold was 8 s: the row stays that long, then its record's row takes the cursor.
        _ = DashboardReducer.reduce(&state, .tick(Fixtures.now.addingTimeInterval(7.5)))
        XCTAssertEqual(state.selectedID, .lock("orders.lock"))
        _ = DashboardReducer.reduce(&state, .tick(Fixtures.now.addingTimeInterval(8.5)))
        XCTAssertEqual(state.visibleRows.map(\.id), [.record("orders")])
        XCTAssertEqual(state.selectedID, .record("orders"))
        XCTAssertNil(state.message, "the same key: nothing to announce")
    }

    func testFilterReadsStateHolderAndNegationAsK9sDoesAndTheEventLogFollows() {
        func keys(_ filter: String) -> [String] {
            var state = Fixtures.state()
            state.filter = filter
            state.refreshVisibleRows()
            return state.visibleRows.map(\.key)
        }
        XCTAssertEqual(keys("state:stale"), ["crashed"])
        XCTAssertEqual(keys("STATE:expired"), ["old"], "case does not matter")
        XCTAssertEqual(keys("state:held?"), [], "no held lock has an unknown holder in the fixtures")
        XCTAssertEqual(keys("holder:web-1"), ["task"])
        XCTAssertEqual(keys("holder:4242"), ["task"], "a pid matches the holder's pid field whole")
        XCTAssertEqual(keys("holder:424"), [], "not the digits inside it, nor inside a thread id")
        XCTAssertEqual(keys("web-1/4242"), ["task"], "the holder as displayed matches too")
        XCTAssertEqual(keys("!state:expired !state:stale"), ["task", "fresh", "garbled", "idle-result"])
        XCTAssertEqual(keys("state:held holder:web"), ["task"], "every word must match")
        XCTAssertEqual(keys("!"), keys(""), "a lone ! is no word")
        var state = Fixtures.state()
        _ = press(&state, .character("/"))
        for character in "holder:8f14" { _ = press(&state, .character(character)) }
        _ = press(&state, .enter)
        let screen = DashboardRenderer.render(state).text
        XCTAssertTrue(screen.contains("expired   old"), screen)
        XCTAssertFalse(screen.contains("acquired  task"), "the event log follows the filter: \(screen)")
    }

    func testFilterMovesToFirstMatchEnterKeepsEscClears() {
        var state = Fixtures.state()
        _ = press(&state, .character("/"), .character("w"), .character("e"), .character("b"))
        XCTAssertTrue(state.isEditingFilter)
        XCTAssertEqual(state.visibleRows.map(\.key), ["task"], "matches the holder too")
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

    func target(_ state: DashboardState, _ id: String) -> BreakTarget {
        let row = state.data.row(withID: .lock(id))
        return BreakTarget(lockName: id, judgedBytes: row?.lockBytes ?? [], judgedState: row?.state ?? .held)
    }

    func patch(_ state: inout DashboardState, _ change: (inout LockRow) -> Void, id: RowID) {
        var row = state.data.row(withID: id)!
        change(&row)
        _ = DashboardReducer.reduce(
            &state, .patch(DashboardPatch(upserts: [row], removals: [], recordCount: 5, lockCount: 5)))
    }

    func testReleasingAnExpiredLockAsksThenBreaksExactlyTheBytesShown() {
        var state = Fixtures.state()
        XCTAssertEqual(press(&state, .character("r")), [])
        guard case .confirmRelease = state.mode else { return XCTFail("\(state.mode)") }
        XCTAssertFalse(target(state, "old.lock").judgedBytes.isEmpty)
        XCTAssertEqual(
            press(&state, .character("y")), [.breakLocks([target(state, "old.lock")], authority: .confirmed)])
        XCTAssertEqual(state.mode, .browsing)
    }

    func testALiveLockIsForcedOnlyByTheWholeKeyAndEnterOrCtrlF() {
        var state = Fixtures.state()
        _ = press(&state, .down, .character("r"))
        guard case .confirmForce = state.mode else { return XCTFail("\(state.mode)") }
        XCTAssertEqual(press(&state, .character("F")), [], "F is text, not a force shortcut")
        XCTAssertEqual(press(&state, .character("y")), [], "y does not force a live lock")
        XCTAssertEqual(press(&state, .character("n"), .character("N")), [], "n is text while typing, not cancel")
        XCTAssertEqual(state.mode, .confirmForce(state.mode.judgedRows[0], typed: "FynN"))
        XCTAssertEqual(press(&state, .enter), [], "a wrong key and Enter does nothing")
        XCTAssertEqual(
            press(
                &state, .backspace, .backspace, .backspace, .backspace, .character("t"), .character("a"),
                .character("s"), .enter), [])
        XCTAssertEqual(
            press(&state, .character("k"), .enter), [.breakLocks([target(state, "task.lock")], authority: .forced)])
        _ = press(&state, .character("r"))
        XCTAssertEqual(press(&state, .control("f")), [.breakLocks([target(state, "task.lock")], authority: .forced)])
        _ = press(&state, .character("r"), .character("t"))
        XCTAssertEqual(press(&state, .escape), [])
        XCTAssertEqual(state.mode, .browsing)
        XCTAssertEqual(state.message, "kept task")
    }

    func testAKeyStartingWithFOrNIsTypedNotActedOn() {
        let rows = ["Flow-1", "nightly"].map {
            LockRow(
                id: .lock("\($0).lock"), key: $0, lockName: "\($0).lock", state: .held, reason: "held",
                lockBytes: Array("{}".utf8))
        }
        var state = DashboardState(
            data: DashboardData(
                recordsDirectory: "/r", locksDirectory: "/r", watch: "inotify", rows: rows,
                recordCount: 0, lockCount: 2), now: Fixtures.now, width: 120, height: 35)
        for key in ["Flow-1", "nightly"] {
            state.selectedID = .lock("\(key).lock")
            _ = press(&state, .character("r"))
            var effects: [DashboardEffect] = []
            for character in key { effects += press(&state, .character(character)) }
            XCTAssertEqual(effects, [], "typing \(key) breaks nothing")
            XCTAssertEqual(state.mode, .confirmForce(rows.first { $0.key == key }!, typed: key))
            XCTAssertEqual(
                press(&state, .enter),
                [
                    .breakLocks(
                        [BreakTarget(lockName: "\(key).lock", judgedBytes: Array("{}".utf8), judgedState: .held)],
                        authority: .forced)
                ])
        }
    }

    func testALockThatChangedUnderTheDialogIsShownAndNotBroken() {
        var state = Fixtures.state()
        _ = press(&state, .character("r"))
        patch(
            &state,
            { row in
                row.lockBytes = Array(#"{"holder": "new-worker", "expiration": null}"#.utf8)
                row.holder = LockHolder("new-worker")
                row.state = .held
                row.reason = "held"
            }, id: .lock("old.lock"))
        let screen = DashboardRenderer.render(state).text
        XCTAssertTrue(screen.contains("CHANGED: the lock was rewritten"), screen)
        XCTAssertTrue(screen.contains("Holder: new-worker"), "the dialog shows the lock as it is now")
        XCTAssertEqual(press(&state, .character("y")), [])
        XCTAssertEqual(state.message, "not broken: old was rewritten while the dialog was open; look again")
        _ = press(&state, .up, .down)
        _ = press(&state, .character("X"))
        patch(&state, { $0.lockBytes = Array("{}".utf8) }, id: .lock("crashed.lock"))
        XCTAssertTrue(DashboardRenderer.render(state).text.contains("CHANGED: was rewritten, skipped"))
        XCTAssertEqual(press(&state, .character("y")), [], "no lock is left unchanged")
    }

    func testDialogReasonsAndCountdownsAreLiveAndNameOneState() {
        var state = Fixtures.state()
        _ = press(&state, .character("r"))
        XCTAssertTrue(DashboardRenderer.render(state).text.contains("Expires: expired 12s ago"))
        patch(&state, { $0.reason = "expired 20s ago" }, id: .lock("old.lock"))
        _ = DashboardReducer.reduce(&state, .tick(Fixtures.now.addingTimeInterval(8)))
        let screen = DashboardRenderer.render(state).text
        XCTAssertTrue(screen.contains("Break EXPIRED lock old?"), screen)
        XCTAssertTrue(screen.contains("The lock is EXPIRED: expired 20s ago."), screen)
        XCTAssertTrue(screen.contains("Expires: expired 20s ago"), screen)
        _ = press(&state, .escape, .home)
        state.selectedID = .lock("garbled.lock")
        _ = press(&state, .character("r"))
        let garbled = DashboardRenderer.render(state).text
        XCTAssertTrue(garbled.contains("Force-break UNREADABLE lock garbled?"), garbled)
        XCTAssertTrue(garbled.contains("The lock is UNREADABLE: empty for 45s."), garbled)
        XCTAssertFalse(garbled.contains("LIVE"))
        _ = press(&state, .escape)
        state.selectedID = .lock("task.lock")
        _ = press(&state, .character("r"))
        let held = DashboardRenderer.render(state).text
        XCTAssertTrue(held.contains("The lock is held: holder pid 4242 is alive."), held)
        XCTAssertFalse(held.contains("held (held)") || held.contains("held: held"), held)
    }

    func testAnExpiredLockWithALiveHolderWarnsBeforeBreaking() {
        var state = Fixtures.state()
        patch(
            &state,
            { row in
                row.liveness = .alive
                row.holderProcessID = 4242
            }, id: .lock("old.lock"))
        _ = press(&state, .character("r"))
        let screen = DashboardRenderer.render(state).text
        XCTAssertTrue(
            screen.contains("holder pid 4242 is still running: breaking lets a second worker run the same task"), screen
        )
        XCTAssertEqual(
            press(&state, .character("y")), [.breakLocks([target(state, "old.lock")], authority: .confirmed)])
    }

    func testBreakAllListsExpiredAndStaleOnly() {
        var state = Fixtures.state()
        _ = press(&state, .character("X"))
        guard case .confirmBreakAll(let rows) = state.mode else { return XCTFail("\(state.mode)") }
        XCTAssertEqual(rows.map(\.key), ["crashed", "old"])
        XCTAssertEqual(press(&state, .escape), [])
        _ = press(&state, .character("X"))
        XCTAssertEqual(
            press(&state, .character("y")),
            [.breakLocks([target(state, "crashed.lock"), target(state, "old.lock")], authority: .unattended)])
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
        let data = DashboardData(
            recordsDirectory: "/r", locksDirectory: "/r", watch: "inotify",
            rows: (0..<100).map {
                LockRow(
                    id: .lock("k\($0).lock"), key: String(format: "k%03d", $0), lockName: "k\($0).lock", state: .held,
                    reason: "held")
            },
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

/// The figures that move with the clock: the `hot` and `acq/min` keys and the detail pane's sparkline.
final class RecentContentionTests: XCTestCase {
    func testARowsRecentFiguresComeFromItsWaitsAndAcquisitions() {
        let now = Fixtures.now
        var statistics = ContentionStatistics()
        for offset in [-90.0, -50, -20, -5] { statistics.recordAcquisition(holder: "h\(offset)", at: now + offset) }
        // Ended waits: one 10 minutes ago (out of every window), one of 60 s ending 2 minutes ago.
        statistics.recordWait(from: now - 700, to: now - 650)
        statistics.recordWait(from: now - 180, to: now - 120)
        let waiter = IdentityLedger.Waiter(
            process: ProcessDetails(processID: 7, hostName: "web-1", startTicks: 1, command: "python w.py"),
            since: now - 30, lastSeen: now, reads: 9)
        var row = LockRow(
            id: .lock("a.lock"), key: "a", lockName: "a.lock", state: .held, reason: "held", statistics: statistics,
            waiters: [waiter], countsWaiters: true)
        row.noteRecentContention(now: now)
        XCTAssertEqual(row.acquisitionsPerMinute, 3, "those of the last minute")
        XCTAssertEqual(row.waitedRecently, 90, accuracy: 0.001, "60 s ended within 5 minutes, and 30 s ongoing")
        XCTAssertEqual(row.waiterHistory.count, LockRow.waiterHistorySlices)
        XCTAssertEqual(row.waiterHistory.last, 1, "the waiter now")
        XCTAssertEqual(row.waiterHistory.first, 0, "the wait that ended 650 s ago is before the sparkline")
        XCTAssertEqual(row.waiterHistory[22], 1, "the wait of 3 to 2 minutes ago")
        let text = DashboardRenderer.recentContentionText(row) ?? ""
        XCTAssertTrue(text.hasPrefix("last minute: 3 acquisitions, hold p95 -; waited 1m30s in the last 5m00s"), text)
        XCTAssertTrue(text.hasSuffix("waiters over 10m00s |                     ███    ██|"), text)
    }
}
