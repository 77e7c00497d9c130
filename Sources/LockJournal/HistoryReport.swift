import Foundation
import LockMonitor
import LockReports
import RecordStore

/// `locktop report`: each lock's figures over a span of a journal, and the locks that cost the
/// most waiting, as text or JSON.
public struct HistoryReport: Sendable {
    /// One lock's figures.
    public struct Figures: Sendable {
        public var history: LockHistory
        public var holdP50: Double?
        public var holdP95: Double?
        public var holdMax: Double?
        public var waitP50: Double?
        public var waitP95: Double?
        public var waitMax: Double?

        init(_ history: LockHistory) {
            self.history = history
            let holds = history.holdTimes.sorted()
            holdP50 = Percentile.of(holds, 0.5)
            holdP95 = Percentile.of(holds, 0.95)
            holdMax = holds.last
            let waits = history.waitTimes.sorted()
            waitP50 = Percentile.of(waits, 0.5)
            waitP95 = Percentile.of(waits, 0.95)
            waitMax = waits.last
        }
    }

    /// The span reported on.
    public var span: ClosedRange<Date>
    /// The journal's path.
    public var journal: String
    /// Every lock with an event in the span, by key.
    public var locks: [Figures]
    /// How many locks the top list names.
    public var top: Int

    /// The figures of `entries` over `span`.
    public init(journal: String, entries: [Journal.Entry], span: ClosedRange<Date>, top: Int = 10) {
        self.journal = journal
        self.span = span
        self.top = top
        locks = LockHistory.build(from: entries).map(Figures.init)
    }

    /// The locks that cost the most waiting, most first; those nobody waited for are left out.
    public var topByWaiting: [Figures] {
        Array(
            locks.filter { $0.history.totalWaited > 0 }.sorted { $0.history.totalWaited > $1.history.totalWaited }
                .prefix(top))
    }

    /// How many slices a sparkline has.
    public static let sparklineWidth = 24

    /// The report as text lines, every cell escaped.
    public func lines() -> [String] {
        var lines = [
            "\(TerminalText.escaped(journal)): \(Reports.isoTime(span.lowerBound)) to \(Reports.isoTime(span.upperBound))"
                + " (\(DurationText.format(span.upperBound.timeIntervalSince(span.lowerBound)))), "
                + (locks.count == 1 ? "1 lock" : "\(locks.count) locks")
        ]
        guard !locks.isEmpty else { return lines + ["nothing was recorded in this span"] }
        let sources = Set(locks.map(\.history.source))
        var rows: [[String]] = [
            ["LOCK"] + (sources.count > 1 ? ["SOURCE"] : []) + [
                "ACQ", "HANDOFF", "HOLD p50", "p95", "max", "WAIT p50", "p95", "max", "TOTAL", "QUEUE", "BREAKS",
                "DEADLOCKS", "WAITERS",
            ]
        ]
        for lock in locks {
            let history = lock.history
            rows.append(
                [Reports.lockTitle(key: history.key, records: history.records)]
                    + (sources.count > 1 ? [history.source] : []) + [
                        "\(history.acquisitions)", "\(history.handOffs)", Self.seconds(lock.holdP50),
                        Self.seconds(lock.holdP95), Self.seconds(lock.holdMax), Self.seconds(lock.waitP50),
                        Self.seconds(lock.waitP95), Self.seconds(lock.waitMax),
                        history.waits.isEmpty ? "-" : Self.seconds(history.totalWaited), "\(history.deepestQueue)",
                        "\(history.breaks.count)", "\(history.deadlocks.count)",
                        "|" + Sparkline.draw(history.waiterCounts(over: span, slices: Self.sparklineWidth)) + "|",
                    ])
        }
        lines += TextTable(rows).lines()
        let top = topByWaiting
        if !top.isEmpty {
            lines.append("")
            lines.append("most time waited:")
            for (rank, lock) in top.enumerated() {
                let waits = lock.history.waits.count
                lines.append(
                    "  \(rank + 1). \(TerminalText.escaped(lock.history.key))  \(Self.seconds(lock.history.totalWaited))"
                        + " over \(waits == 1 ? "1 wait" : "\(waits) waits"), queue up to \(lock.history.deepestQueue)")
            }
        }
        return lines
    }

    /// The report as one JSON document (docs/json.md, "Reports").
    public func json() -> [UInt8] {
        let number = Self.jsonSeconds
        let lockObjects: [JSONValue] = locks.map { lock in
            let history = lock.history
            let holds: [String: JSONValue] = [
                "p50": number(lock.holdP50), "p95": number(lock.holdP95), "max": number(lock.holdMax),
                "count": .number(Double(history.holdTimes.count)),
            ]
            let waits: [String: JSONValue] = [
                "p50": number(lock.waitP50), "p95": number(lock.waitP95), "max": number(lock.waitMax),
                "total": number(history.totalWaited), "count": .number(Double(history.waits.count)),
            ]
            let waiters = history.waiterCounts(over: span, slices: Self.sparklineWidth)
            return .object([
                "key": .string(history.key), "source": .string(history.source),
                "records": .array(history.records.map { .string($0) }),
                "acquisitions": .number(Double(history.acquisitions)), "hand_offs": .number(Double(history.handOffs)),
                "hold_seconds": .object(holds), "wait_seconds": .object(waits),
                "deepest_queue": .number(Double(history.deepestQueue)), "breaks": .number(Double(history.breaks.count)),
                "deadlocks": .number(Double(history.deadlocks.count)),
                "expirations": .number(Double(history.expirations)),
                "waiters": .array(waiters.map { .number(Double($0)) }),
            ])
        }
        var output = [UInt8]()
        JSONValue.encodeObject(
            [
                ("schema", .number(Double(Reports.schemaVersion))), ("journal", .string(journal)),
                ("since", .string(Reports.isoTime(span.lowerBound))),
                ("until", .string(Reports.isoTime(span.upperBound))),
                ("locks", .array(lockObjects)),
                ("top_by_time_waited", .array(topByWaiting.map { .string($0.history.key) })),
            ], into: &output)
        output.append(0x0A)
        return output
    }

    /// Seconds (or any figure) as the JSON documents give them: to the millisecond, `null` for none.
    public static func jsonSeconds(_ value: Double?) -> JSONValue {
        value.map { .number(($0 * 1000).rounded() / 1000) } ?? .null
    }

    /// Seconds as a report shows them: `0.412s`, `12.3s`, `3m05s`; `-` for none.
    public static func seconds(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value < 10 { return String(format: "%.3fs", value) }
        if value < 60 { return String(format: "%.1fs", value) }
        return DurationText.format(value)
    }
}
