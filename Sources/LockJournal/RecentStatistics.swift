import Foundation
import LockMonitor
import LockReports
import RecordStore

/// `locktop stats`: each lock's recent figures from a journal (acquisitions per minute, hold and
/// wait p50/p95/max) and its waiters as last recorded, as text or JSON.
public struct RecentStatistics: Sendable {
    /// The figures over the span, from the same computation as `report`'s.
    public var report: HistoryReport
    /// Each lock's waiters in its last recorded row, by source and key; a lock with none recorded has 0.
    private var waitersNow: [String: Int] = [:]
    private let minutes: Double

    /// The figures of `report`, with the waiters of `latest` (the journal's last row states).
    public init(report: HistoryReport, latest: [Journal.RowChange]) {
        self.report = report
        minutes = max(report.span.upperBound.timeIntervalSince(report.span.lowerBound) / 60, 1 / 60)
        for change in latest {
            guard let snapshot = change.snapshot else { continue }
            waitersNow[Self.id(change.source, snapshot.key)] = snapshot.waiters.count
        }
    }

    private static func id(_ source: String, _ key: String) -> String { source + "\u{0}" + key }

    private func waitersNow(of history: LockHistory) -> Int { waitersNow[Self.id(history.source, history.key)] ?? 0 }

    private func perMinute(_ history: LockHistory) -> Double { Double(history.acquisitions) / minutes }

    /// The figures as text lines, every cell escaped.
    public func lines() -> [String] {
        guard !report.locks.isEmpty else {
            return ["\(TerminalText.escaped(report.journal)): no lock events in the span"]
        }
        var rows = [["LOCK", "ACQ/MIN", "HOLD p50", "p95", "max", "WAIT p50", "p95", "max", "WAITERS NOW"]]
        for lock in report.locks {
            let history = lock.history
            rows.append(
                [
                    Reports.lockTitle(key: history.key, records: history.records),
                    String(format: "%.1f", perMinute(history)),
                ]
                    + [lock.holdP50, lock.holdP95, lock.holdMax, lock.waitP50, lock.waitP95, lock.waitMax].map(
                        HistoryReport.seconds) + ["\(waitersNow(of: history))"])
        }
        return TextTable(rows).lines()
    }

    /// The figures as one JSON document (docs/json.md, "History"); `span` is nil when the journal
    /// held nothing in the span asked for.
    public func json(span: ClosedRange<Date>?) -> [UInt8] {
        let objects: [JSONValue] = report.locks.map { lock in
            let history = lock.history
            return .object([
                "key": .string(history.key), "source": .string(history.source),
                "acquisitions_per_minute": HistoryReport.jsonSeconds(perMinute(history)),
                "hold_seconds": .object([
                    "p50": HistoryReport.jsonSeconds(lock.holdP50), "p95": HistoryReport.jsonSeconds(lock.holdP95),
                    "max": HistoryReport.jsonSeconds(lock.holdMax),
                ]),
                "wait_seconds": .object([
                    "p50": HistoryReport.jsonSeconds(lock.waitP50), "p95": HistoryReport.jsonSeconds(lock.waitP95),
                    "max": HistoryReport.jsonSeconds(lock.waitMax),
                ]),
                "waiters_now": .number(Double(waitersNow(of: history))),
            ])
        }
        var output = [UInt8]()
        JSONValue.encodeObject(
            [
                ("schema", .number(Double(Reports.schemaVersion))), ("journal", .string(report.journal)),
                ("since", span.map { .string(Reports.isoTime($0.lowerBound)) } ?? .null),
                ("until", span.map { .string(Reports.isoTime($0.upperBound)) } ?? .null),
                ("locks", .array(objects)),
            ], into: &output)
        output.append(0x0A)
        return output
    }
}
