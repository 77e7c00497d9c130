import Foundation
import LockJournal
import LockMonitor
import LockReports
import LocktopTestSupport
import XCTest

/// The figures, the timeline and the sparklines on values: journal entries in, numbers and text out.
final class HistoryTests: XCTestCase {
    let start = Date(timeIntervalSince1970: 1_796_000_000)

    func at(_ offset: Double) -> Date { start.addingTimeInterval(offset) }

    func entry(_ kind: MonitorEvent.Kind, _ key: String, _ offset: Double, holder: String? = nil) -> Journal.Entry {
        Journal.Entry(source: "s", event: MonitorEvent(time: at(offset), kind: kind, key: key, holder: holder))
    }

    func released(_ key: String, _ offset: Double, held: Double, holder: String?, broken: Bool = false) -> Journal.Entry
    {
        var entry = entry(broken ? .broken : .released, key, offset)
        entry.event.previousHolder = holder
        entry.event.heldSeconds = held
        return entry
    }

    func waited(_ key: String, _ offset: Double, seconds: Double, pid: Int32) -> Journal.Entry {
        var entry = entry(.waited, key, offset)
        entry.event.processID = pid
        entry.event.waitedSeconds = seconds
        entry.event.tookLock = true
        return entry
    }

    /// `orders`: A holds 0-4, B 4-6 (a hand-off, after waiting 3 s), C 7-9, broken; two waited at
    /// once from 2 to 4. `billing` is taken once, before the span, and released at 5.
    var entries: [Journal.Entry] {
        var handOff = entry(.acquired, "orders", 4, holder: "web-1:4242:1:MainThread")
        handOff.event.previousHolder = "A"
        return [
            entry(.acquired, "orders", 0, holder: "A"),
            waited("orders", 4, seconds: 3, pid: 11),
            released("orders", 4, held: 4, holder: "A"),
            handOff,
            waited("orders", 5, seconds: 3, pid: 12),
            released("billing", 5, held: 30, holder: "Z"),
            released("orders", 6, held: 2, holder: "web-1:4242:1:MainThread"),
            entry(.acquired, "orders", 7, holder: "C"),
            released("orders", 9, held: 2, holder: "C", broken: true),
        ]
    }

    func testEachLocksFiguresComeFromItsEvents() throws {
        let report = HistoryReport(journal: "j.db", entries: entries, span: start...at(10))
        XCTAssertEqual(report.locks.map(\.history.key), ["billing", "orders"])
        let orders = report.locks[1]
        XCTAssertEqual(orders.history.acquisitions, 3)
        XCTAssertEqual(orders.history.handOffs, 1)
        XCTAssertEqual(orders.history.holdTimes, [4, 2, 2])
        XCTAssertEqual(orders.holdP50, 2)
        XCTAssertEqual(orders.holdP95, 4)
        XCTAssertEqual(orders.holdMax, 4)
        XCTAssertEqual(orders.history.totalWaited, 6)
        XCTAssertEqual(orders.waitP50, 3)
        XCTAssertEqual(orders.history.deepestQueue, 2, "waits 1-4 and 2-5 overlap")
        XCTAssertEqual(orders.history.breaks, [at(9)])
        XCTAssertEqual(report.topByWaiting.map(\.history.key), ["orders"], "nobody waited for billing")
        let billing = report.locks[0]
        XCTAssertEqual(billing.history.holds.first?.start, at(-25), "a hold begun before the span is dated back")
        XCTAssertEqual(billing.history.acquisitions, 0)
    }

    func testDepthCountsAHandOffAsOneAtATime() {
        XCTAssertEqual(ContentionStatistics.depth(of: [(at(0), at(1)), (at(1), at(2))]), 1)
        XCTAssertEqual(ContentionStatistics.depth(of: [(at(0), at(3)), (at(1), at(2)), (at(1.5), at(4))]), 3)
        XCTAssertEqual(ContentionStatistics.depth(of: []), 0)
    }

    func testTheTimelineLetsEachHolderHaveALetterAndMarksBreaks() {
        let histories = LockHistory.build(from: entries)
        let timeline = Timeline(histories, span: start...at(10), columns: 10)
        let orders = timeline.lanes[1]
        XCTAssertEqual(timeline.holders.count, 4)
        let letters = orders.cells.map { cell -> Character in
            switch cell {
            case .free: return "·"
            case .held(let index): return Timeline.letter(index)
            case .broken: return "×"
            }
        }
        // billing's Z is the first holder met (A), orders' A is B, and so on.
        XCTAssertEqual(String(letters), "BBBBCC·DD×")
        XCTAssertEqual(orders.waiters, [0, 1, 2, 2, 1, 0, 0, 0, 0, 0])
        let lines = timeline.lines()
        XCTAssertTrue(lines.contains("orders     BBBBCC·DD×"), lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains("  waiting   1221"), lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains("C  web-1/4242"), "Prefect's host:pid holder is named short")
    }

    func testTheSVGIsStandaloneEscapesEveryNameAndRenders() throws {
        var hostile = entry(.acquired, "<script>", 0, holder: "a\"&<b>\u{1B}[31m")
        hostile.event.records = []
        let timeline = Timeline(
            LockHistory.build(from: [hostile] + entries), span: start...at(10), columns: 100)
        let svg = TimelineSVG.render(timeline)
        XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1000\""))
        XCTAssertTrue(svg.contains("height=\"\(TimelineSVG.height(of: timeline))\""))
        XCTAssertFalse(svg.contains("<script>"))
        XCTAssertTrue(svg.contains("&lt;script&gt;"))
        XCTAssertFalse(svg.contains("\u{1B}"), "no control character reaches the XML")
        XCTAssertTrue(svg.hasSuffix("</svg>\n"))
        let path = TestSupport.temporaryDirectory(for: self) + "/timeline.svg"
        try Data(svg.utf8).write(to: URL(fileURLWithPath: path))
        try TestSupport.checkRendersToPNG(path, width: TimelineSVG.width)
    }

    func testSparklinesScaleToTheLargestAndLeaveNobodyBlank() {
        XCTAssertEqual(Sparkline.draw([0, 1, 2, 4, 8]), " ▁▂▄█")
        XCTAssertEqual(Sparkline.draw([0, 0]), "  ")
        XCTAssertEqual(Sparkline.draw([3]), "█")
    }

    func testTheReportsTextEscapesAndItsJSONParses() throws {
        var hostile = entry(.acquired, "evil\u{1B}]52;c;x\u{07}", 0, holder: "h")
        hostile.event.records = []
        let report = HistoryReport(journal: "j.db", entries: entries + [hostile], span: start...at(10))
        let text = report.lines().joined(separator: "\n")
        XCTAssertFalse(text.contains("\u{1B}"))
        XCTAssertTrue(text.contains("most time waited:\n  1. orders  6.000s over 2 waits, queue up to 2"), text)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(report.json())) as? [String: Any])
        let locks = try XCTUnwrap(json["locks"] as? [[String: Any]])
        let orders = try XCTUnwrap(locks.first { $0["key"] as? String == "orders" })
        XCTAssertEqual(orders["acquisitions"] as? Int, 3)
        XCTAssertEqual(orders["hand_offs"] as? Int, 1)
        XCTAssertEqual((orders["wait_seconds"] as? [String: Any])?["total"] as? Double, 6)
        XCTAssertEqual(json["top_by_time_waited"] as? [String], ["orders"])
    }
}
