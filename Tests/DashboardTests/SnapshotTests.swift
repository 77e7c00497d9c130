import Foundation
import LockMonitor
import RecordStore
import XCTest

@testable import Dashboard

/// Text snapshots of the rendered grid. Set LOCKTOP_RECORD_SNAPSHOTS=1 to re-record them.
final class SnapshotTests: XCTestCase {
    func assertSnapshot(_ state: DashboardState, named name: String, file: StaticString = #filePath, line: UInt = #line)
        throws
    {
        let text = DashboardRenderer.render(state).text + "\n"
        let directory = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().appendingPathComponent(
            "Snapshots")
        let path = directory.appendingPathComponent("\(name).txt")
        if ProcessInfo.processInfo.environment["LOCKTOP_RECORD_SNAPSHOTS"] == "1"
            || !FileManager.default.fileExists(atPath: path.path)
        {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try text.write(to: path, atomically: true, encoding: .utf8)
            if ProcessInfo.processInfo.environment["LOCKTOP_RECORD_SNAPSHOTS"] != "1" {
                XCTFail("recorded a new snapshot \(name); check it and run again", file: file, line: line)
            }
            return
        }
        let expected = try String(contentsOf: path, encoding: .utf8)
        if expected != text {
            let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let actualLines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let first = zip(expectedLines, actualLines).enumerated().first { $0.element.0 != $0.element.1 }
            XCTFail(
                "snapshot \(name) differs at line \((first?.offset ?? 0) + 1):\nexpected: \(first?.element.0 ?? "")\nactual:   \(first?.element.1 ?? "")\n\nactual screen:\n\(text)",
                file: file, line: line)
        }
    }

    func state(_ width: Int, _ height: Int, keys: [Key] = [], readOnly: Bool = false) -> DashboardState {
        var state = Fixtures.state(width: width, height: height, readOnly: readOnly)
        for key in keys { _ = DashboardReducer.reduce(&state, .key(key)) }
        return state
    }

    func testMain120x35() throws { try assertSnapshot(state(120, 35), named: "main-120x35") }
    func testMain80x24() throws { try assertSnapshot(state(80, 24), named: "main-80x24") }
    func testMain200x50() throws { try assertSnapshot(state(200, 50), named: "main-200x50") }
    func testMain40x10() throws { try assertSnapshot(state(40, 10), named: "main-40x10") }
    func testMain160x45() throws { try assertSnapshot(state(160, 45), named: "main-160x45") }
    func testMain60x15() throws { try assertSnapshot(state(60, 15), named: "main-60x15") }
    func testDetail60x15() throws {
        try assertSnapshot(state(60, 15, keys: [.down, .down, .enter]), named: "detail-60x15")
    }
    func testTheCountsKeepEveryStateAtSixtyColumnsAndTheAlertShortensFirst() {
        let lines = DashboardRenderer.render(state(60, 15)).text.components(separatedBy: "\n")
        XCTAssertEqual(
            lines[1].trimmingCharacters(in: .whitespaces), "rec 5 locks 5 held 1 exp 1 stale 1 unread 1 writ 1")
        XCTAssertEqual(lines[2].trimmingCharacters(in: .whitespaces), #"! 2 waiters blocked 3m30s on "crashed""#)
        let wide = DashboardRenderer.render(state(120, 35)).text.components(separatedBy: "\n")
        XCTAssertTrue(wide[1].contains("records 5  locks 5  held 1  expired 1  stale 1  unreadable 1  writing 1"))
        XCTAssertTrue(wide[2].contains(#"! 2 waiters blocked 3m30s behind a dead holder on "crashed""#))
    }
    func testBShowsWhoBlocksWhomAsATree() throws {
        let state = state(120, 35, keys: [.character("b")])
        XCTAssertEqual(state.mode, .blocking)
        let text = DashboardRenderer.render(state).text
        XCTAssertTrue(text.contains("crashed  held by pid 777"), text)
        XCTAssertTrue(text.contains("(dead) · 2 waiters"), text)
        try assertSnapshot(state, named: "blocking-120x35")
    }
    func testADeadlockTakesTheAlertBeforeBlockedWaitersAndShortensToTheWidth() {
        var state = state(120, 35)
        state.data.deadlocks = [
            WaitForGraph.Deadlock(
                links: [
                    .init(lockName: "billing.lock", holderProcessID: 4250, holderCommand: "python b.py"),
                    .init(lockName: "orders.lock", holderProcessID: 4242, holderCommand: "python a.py"),
                ], isCertain: true)
        ]
        let wide = DashboardRenderer.render(state).text.components(separatedBy: "\n")
        XCTAssertTrue(wide[2].contains("! deadlock: billing ⇄ orders (pid 4250, pid 4242)"), wide[2])
        state.data.deadlocks[0].isCertain = false
        state.width = 50
        state.height = 15
        let narrow = DashboardRenderer.render(state).text.components(separatedBy: "\n")
        XCTAssertEqual(narrow[2].trimmingCharacters(in: .whitespaces), "! possible deadlock: billing ⇄ orders")
    }
    func testACacheHashKeyIsNamedByItsTaskInATaskColumnAndTheDetailPane() throws {
        let hash = "e7d113f8256795670dc11b49a7cbcf2c"
        let run = PrefectRun(
            taskName: "slow_double", taskRunName: "slow_double-3e1", taskRunID: "5f0c1d2e-task-run",
            flowRunName: "crimson-fox", flowRunID: "0b7c2d4e-flow-run")
        let rows = [
            LockRow(
                id: .lock("\(hash).lock"), key: hash, lockName: "\(hash).lock", state: .held, reason: "held",
                holder: LockHolder("8f14e45f-ceea-467f-a0e6-8d5e1b7f2a11"), liveness: .alive,
                since: Fixtures.now.addingTimeInterval(-5), records: [hash], holderProcessID: 4242, prefectRun: run),
            LockRow(
                id: .lock("\(hash.prefix(31))0.lock"), key: "\(hash.prefix(31))0", lockName: "\(hash.prefix(31))0.lock",
                state: .held, reason: "held", since: Fixtures.now),
        ]
        var state = DashboardState(
            data: DashboardData(
                recordsDirectory: "/r", locksDirectory: "/r", watch: "inotify", rows: rows, recordCount: 1,
                lockCount: 2),
            now: Fixtures.now, width: 120, height: 35)
        state.selectedID = .lock("\(hash).lock")
        _ = DashboardReducer.reduce(&state, .key(.enter))
        let text = DashboardRenderer.render(state).text
        let lines = text.components(separatedBy: "\n")
        XCTAssertTrue(lines[2].contains(" TASK "), text)
        XCTAssertTrue(lines.contains { $0.contains("\(hash) slow_double ") }, text)
        XCTAssertTrue(lines.contains { $0.contains("\(hash.prefix(31))0 -  ") }, "a hash with no names: \(text)")
        XCTAssertTrue(
            text.contains(
                "prefect: task slow_double (run slow_double-3e1, id 5f0c1d2e-task-run) in flow run crimson-fox (id 0b7c2d4e-flow-run)"
            ), text)
        XCTAssertFalse(
            DashboardRenderer.render(self.state(120, 35)).text.contains(" TASK "), "no hash key: no task column")
    }
    func testTooSmall() throws { try assertSnapshot(state(39, 10), named: "too-small-39x10") }
    func testDetailPaneAsksForTheRowsDetailsAndShowsThem() throws {
        var state = state(120, 35, keys: [.down])
        XCTAssertEqual(DashboardReducer.reduce(&state, .key(.enter)), [.loadDetails(.init(state.selectedRow!))])
        XCTAssertEqual(state.requestedDetails, RowDetails.Request(state.selectedRow!))
        XCTAssertEqual(
            DashboardReducer.reduce(&state, .tick(Fixtures.now)), [.loadDetails(.init(state.selectedRow!))],
            "read again every second")
        _ = DashboardReducer.reduce(
            &state, .detailsLoaded(RowDetails(rowID: .lock("old.lock"), recordSummary: "stale answer")))
        XCTAssertNil(state.details, "details of a row no longer shown are dropped")
        _ = DashboardReducer.reduce(
            &state,
            .detailsLoaded(RowDetails(rowID: .lock("task.lock"), recordSummary: "reference pickle storage_key=abc")))
        try assertSnapshot(state, named: "detail-shared-120x35")
        XCTAssertEqual(DashboardReducer.reduce(&state, .key(.down)), [.loadDetails(.init(state.selectedRow!))])
        XCTAssertEqual(DashboardReducer.reduce(&state, .key(.enter)), [], "closing the pane asks for nothing")
    }
    func testDetailPaneShowsTheHolderProcessAndItsWaiters() throws {
        var state = state(120, 35)
        state.selectedID = .lock("crashed.lock")
        _ = DashboardReducer.reduce(&state, .key(.enter))
        let text = DashboardRenderer.render(state).text
        for expected in [
            "process: pid 777  user etl", "command: /usr/bin/python flow.py --run nightly",
            "prefect: flow run id 0b7c2d4e-flow-run",
            "├─ waiting 3m30s: pid 801 flow.py --run nightly", "└─ waiting 3m00s: pid 802",
            #"! 2 waiters blocked 3m30s behind a dead holder on "crashed""#, "777 flow.py --run nightly",
        ] {
            XCTAssertTrue(text.contains(expected), "\(expected) in\n\(text)")
        }
        try assertSnapshot(state, named: "detail-identity-120x35")
    }
    func testConfirmRelease() throws {
        try assertSnapshot(state(80, 24, keys: [.character("r")]), named: "confirm-release-80x24")
    }
    func testConfirmForce() throws {
        try assertSnapshot(
            state(80, 24, keys: [.down, .character("r"), .character("t"), .character("a")]),
            named: "confirm-force-80x24")
    }
    func testConfirmBreakAll() throws {
        try assertSnapshot(state(80, 24, keys: [.character("X")]), named: "confirm-break-all-80x24")
    }
    func testARedisDashboardSaysOnlyWhatRedisCanTell() throws {
        var state = state(120, 35)
        state.data.store = .redis
        state.selectedID = .lock("task.lock")
        _ = DashboardReducer.reduce(&state, .key(.enter))
        _ = DashboardReducer.reduce(
            &state,
            .events([
                MonitorEvent(
                    time: Fixtures.now, kind: .disconnected, key: "redis://cache:6379/0",
                    detail: "Redis closed the connection")
            ]))
        var text = DashboardRenderer.render(state).text
        XCTAssertTrue(text.contains("first seen by locktop 2026-"), text)
        XCTAssertFalse(text.contains("held since"), text)
        XCTAssertFalse(text.contains("opens/s"), "a Redis GET cannot be seen: \(text)")
        XCTAssertFalse(text.contains("record summary"), text)
        XCTAssertTrue(text.contains("disconnected redis://cache:6379/0"), "the event's name whole: \(text)")
        state.data.storeTrouble = "redis://cache:6379/0 not answering for 6s"
        XCTAssertTrue(
            DashboardRenderer.render(state).text.contains(" ! redis://cache:6379/0 not answering for 6s"),
            "in the header, before any call times out")
        state.data.storeTrouble = nil
        state.data.missingDirectories = ["redis://cache:6379/0"]
        text = DashboardRenderer.render(state).text
        XCTAssertTrue(text.contains("redis://cache:6379/0 is not answering; reconnecting"), text)
        XCTAssertFalse(text.contains("does not exist"), text)
    }

    func testDialogsAndTheDetailPaneWrapAtWordsAndLoseNothingAt60Columns() throws {
        /// The words inside the dialog's box, on the lines between its borders.
        func dialogWords(_ width: Int, _ height: Int, keys: [Key]) -> [String] {
            DashboardRenderer.render(state(width, height, keys: keys)).text.split(separator: "\n").flatMap { line in
                let parts = line.split(separator: "│", omittingEmptySubsequences: false)
                return parts.count >= 3 ? parts[1].split(separator: " ").map(String.init) : []
            }
        }
        for keys: [Key] in [[.down, .character("r")], [.character("X")], [.character("r")]] {
            XCTAssertEqual(dialogWords(60, 30, keys: keys), dialogWords(160, 45, keys: keys), "\(keys)")
        }
        XCTAssertEqual(
            TextWrap.wrap("holder pid 777 is alive and well", width: 14, indent: "  "),
            ["holder pid 777", "  is alive and", "  well"], "never ali/ve")
        XCTAssertEqual(
            TextWrap.wrap("abcdefghij", width: 4), ["abcd", "efgh", "ij"], "a long word is cut where it must be")
    }

    func testConfirmBreakAllOfOneLockSaysItInTheSingular() throws {
        var state = DashboardState(
            data: DashboardData(
                recordsDirectory: "/r", locksDirectory: "/r", watch: "inotify",
                rows: Fixtures.rows().filter { $0.key != "crashed" }, recordCount: 5, lockCount: 4),
            now: Fixtures.now, width: 80, height: 24)
        _ = DashboardReducer.reduce(&state, .key(.character("X")))
        let text = DashboardRenderer.render(state).text
        XCTAssertTrue(text.contains("Break this expired or stale lock?"), text)
        XCTAssertFalse(text.contains("these 1"), text)
    }
    func testHelp() throws { try assertSnapshot(state(120, 35, keys: [.character("?")]), named: "help-120x35") }
    func testHelp40x10() throws { try assertSnapshot(state(40, 10, keys: [.character("?")]), named: "help-40x10") }
    func testFilterEditing() throws {
        try assertSnapshot(
            state(80, 24, keys: [.character("/"), .character("w"), .character("e")]), named: "filter-80x24")
    }
    func testReadOnlyFooter() throws { try assertSnapshot(state(80, 24, readOnly: true), named: "read-only-80x24") }

    func testAHeldLockWithAnUnknownHolderIsNotAHealthyHeld() throws {
        var state = Fixtures.state()
        let unknown = LockRow(
            id: .lock("uuid.lock"), key: "uuid", lockName: "uuid.lock", state: .held, reason: "holder process unknown",
            holder: LockHolder("1b4e28ba-2fa1-11d2-883f-0016d3cca427"), liveness: .unknown,
            since: Fixtures.now.addingTimeInterval(-90), lockBytes: Array("{}".utf8))
        _ = DashboardReducer.reduce(
            &state, .patch(DashboardPatch(upserts: [unknown], removals: [], recordCount: 5, lockCount: 6)))
        let screen = DashboardRenderer.render(state)
        XCTAssertTrue(
            screen.line(1).contains("held 1 (1 unknown)") || screen.line(1).contains("held 2 (1 unknown)"),
            screen.line(1))
        let y = try XCTUnwrap((0..<screen.height).first { screen.line($0).hasPrefix(" uuid ") })
        XCTAssertTrue(screen.line(y).contains("held?"), screen.line(y))
        let line = screen.line(y)
        let stateX = line.distance(from: line.startIndex, to: try XCTUnwrap(line.range(of: "held?")).lowerBound)
        XCTAssertEqual(screen[stateX, y].style.role, .unknown, "its own colour, not the held green")
        try assertSnapshot(state, named: "unknown-holder-120x35")
    }

    func testColumnsFitWhatTheRowsHoldAndTheLeastUsefulGoFirst() {
        let cacheKey = "552868a8570daa96a004f2d5745b7e62"
        let uuid = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
        var data = Fixtures.data()
        data.apply(
            DashboardPatch(
                upserts: [
                    LockRow(
                        id: .lock("\(cacheKey).lock"), key: cacheKey, lockName: "\(cacheKey).lock", state: .expired,
                        reason: "", holder: LockHolder(uuid), liveness: .unknown,
                        expiration: Fixtures.now.addingTimeInterval(-338), since: Fixtures.now.addingTimeInterval(-400))
                ],
                removals: [], recordCount: 5, lockCount: 6))
        func screen(_ width: Int, _ height: Int) -> String {
            DashboardRenderer.render(DashboardState(data: data, now: Fixtures.now, width: width, height: height)).text
        }
        XCTAssertTrue(screen(120, 35).contains(" \(cacheKey) "), "a 32-character cache key whole at 120 columns")
        XCTAssertTrue(screen(120, 35).contains("expired 5m38s ago"))
        XCTAssertTrue(screen(200, 50).contains(uuid), "a whole UUID at 200 columns")
        let narrow = screen(80, 24)
        XCTAssertTrue(narrow.contains("KEY") && narrow.contains("STATE") && narrow.contains("EXPIRES"), narrow)
        XCTAssertFalse(narrow.contains("RECORDS"), "the records go first: \(narrow)")
    }

    func testStatesAreReadableWithoutColour() {
        let screen = DashboardRenderer.render(state(120, 35)).text
        for label in [
            "held", "EXPIRED", "STALE", "UNREADABLE", "writing", "[shared] task", "2 ⧗3m30s", "12/s", "3m05s",
            "expired 12s ago",
            "never",
        ] {
            XCTAssertTrue(screen.contains(label), label)
        }
    }

    func testHostileTextIsEscapedInTableDetailDialogAndEvents() {
        let hostile = "\u{1b}]2;PWNED\u{07}\u{9b}2J"
        var state = Fixtures.state()
        var row = state.data.row(withID: .lock("task.lock"))!
        row.holder = LockHolder(hostile)
        row.lockBytes = Array(#"{"holder": "\#(hostile)", "expiration": null}"#.utf8) + [0xFF]
        _ = DashboardReducer.reduce(
            &state, .patch(DashboardPatch(upserts: [row], removals: [], recordCount: 5, lockCount: 5)))
        _ = DashboardReducer.reduce(
            &state, .events([MonitorEvent(time: Fixtures.now, kind: .acquired, key: "task", holder: hostile)]))
        state.selectedID = .lock("task.lock")
        _ = DashboardReducer.reduce(&state, .key(.enter))
        let detail = DashboardRenderer.render(state).text
        XCTAssertTrue(
            detail.contains(#"raw: {"holder": "\x1B]2;PWNED\x07\u009B2J", "expiration": null}\xFF"#),
            "raw JSON, with invalid UTF-8 escaped: \(detail)")
        _ = DashboardReducer.reduce(&state, .key(.character("r")))
        let screen = DashboardRenderer.render(state)
        XCTAssertFalse(screen.cells.contains { $0.character.unicodeScalars.contains { TerminalText.needsEscape($0) } })
        let text = screen.text
        XCTAssertTrue(text.contains(#"Holder: \x1B]2;PWNED\x07\u009B2J"#), text)
        XCTAssertEqual(
            text.components(separatedBy: #"\x1B]2;PWNED"#).count - 1, 5,
            "table, detail (holder and raw), dialog, event log")
    }
}
