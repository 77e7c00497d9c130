import Foundation
import LockMonitor
import LockReports
import RecordStore

/// `report --timeline`: a Gantt chart of a span, one lane per lock and time across. Each column
/// shows who held the lock (a letter per holder, the legend below), how many waited, and breaks
/// (`×`). Pure layout, tested on values; ``TimelineSVG`` draws the same lanes as a picture.
public struct Timeline: Sendable {
    /// What one column of a lane shows.
    public enum Cell: Equatable, Sendable {
        case free
        /// Held by the holder at this index of ``holders``.
        case held(Int)
        /// A break happened in it.
        case broken
    }

    /// One lock's lane.
    public struct Lane: Sendable {
        public var title: String
        public var history: LockHistory
        public var cells: [Cell]
        /// How many waited at once in each column.
        public var waiters: [Int]
    }

    public var span: ClosedRange<Date>
    public var columns: Int
    public var lanes: [Lane]
    /// Every holder drawn, by name, in order of first appearance: the letter of holder `i` is
    /// `letter(i)`. A process fanotify saw take the lock is one holder however many holder
    /// strings it wrote (Prefect writes a new uuid per transaction).
    public var holders: [String]

    /// Lays `histories` out over `span` in `columns` columns.
    public init(_ histories: [LockHistory], span: ClosedRange<Date>, columns: Int) {
        self.span = span
        self.columns = max(1, columns)
        var holders: [String] = []
        var indexes: [String: Int] = [:]
        func index(of hold: LockHistory.Hold) -> Int {
            let name = Self.holderName(of: hold)
            if let index = indexes[name] { return index }
            holders.append(name)
            indexes[name] = holders.count - 1
            return holders.count - 1
        }
        let length = max(span.upperBound.timeIntervalSince(span.lowerBound), 0.001) / Double(self.columns)
        lanes = histories.map { history in
            var cells = [Cell](repeating: .free, count: max(1, columns))
            var covered = [Double](repeating: 0, count: cells.count)
            for hold in history.holds {
                let end = hold.end ?? span.upperBound
                guard end > span.lowerBound, hold.start < span.upperBound else { continue }
                let holder = index(of: hold)
                let first = max(0, Int(hold.start.timeIntervalSince(span.lowerBound) / length))
                let last = min(cells.count - 1, Int(end.timeIntervalSince(span.lowerBound) / length))
                guard first <= last else { continue }
                for column in first...last {
                    // The holder that held most of a column is drawn in it.
                    let columnStart = span.lowerBound.addingTimeInterval(Double(column) * length)
                    let overlap =
                        min(end, columnStart.addingTimeInterval(length)).timeIntervalSince(max(hold.start, columnStart))
                    if overlap > covered[column] {
                        covered[column] = overlap
                        cells[column] = .held(holder)
                    }
                }
            }
            for time in history.breaks where span.contains(time) {
                cells[min(cells.count - 1, Int(time.timeIntervalSince(span.lowerBound) / length))] = .broken
            }
            return Lane(
                title: Reports.lockTitle(key: history.key, records: history.records), history: history, cells: cells,
                waiters: history.waiterCounts(over: span, slices: cells.count))
        }
        self.holders = holders
    }

    /// The letter of holder `index`: `A`…`Z`, `a`…`z`, then `#`.
    public static func letter(_ index: Int) -> Character {
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        return index < letters.count ? letters[index] : "#"
    }

    /// A hold's holder as the legend names it: `pid 4242` for a process fanotify saw take it,
    /// `host/pid` for Prefect's `host:pid:…` form, else the holder string.
    public static func holderName(of hold: LockHistory.Hold) -> String {
        if let pid = hold.processID { return "pid \(pid)" }
        return hold.holder.map { Reports.shortHolder(LockHolder($0)) } ?? "(unknown holder)"
    }

    /// How many holders a legend names; the rest are counted.
    public static let legendLimit = 26

    /// The chart as text lines, every name escaped: a time axis, two lines per lock (its holders,
    /// then its waiters as digits where any waited), and the legend.
    public func lines() -> [String] {
        let titles = lanes.map { TerminalText.escaped($0.title) }
        // Room for the longest title, and for the waiters' label under it.
        let margin = min(24, max(Self.waitingLabel.count + 2, (titles.map(\.count).max() ?? 0) + 2))
        func label(_ text: String) -> String {
            let cut = text.count > margin - 2 ? String(text.prefix(margin - 3)) + "…" : text
            return cut.padding(toLength: margin, withPad: " ", startingAt: 0)
        }
        let from = Self.clock(span.lowerBound)
        let until = Self.clock(span.upperBound)
        let gap = max(1, columns - from.count - until.count)
        var lines = [String(repeating: " ", count: margin) + from + String(repeating: " ", count: gap) + until]
        for (lane, title) in zip(lanes, titles) {
            lines.append(
                label(title)
                    + String(
                        lane.cells.map { cell in
                            switch cell {
                            case .free: return "·"
                            case .held(let holder): return Self.letter(holder)
                            case .broken: return "×"
                            }
                        }))
            if lane.waiters.contains(where: { $0 > 0 }) {
                let depths = lane.waiters.map { $0 == 0 ? " " : $0 > 9 ? "+" : Character("\($0)") }
                var line = label(Self.waitingLabel) + String(depths)
                while line.hasSuffix(" ") { line.removeLast() }
                lines.append(line)
            }
        }
        lines.append("")
        lines.append("· free  × broken  digits: how many waited")
        for (index, holder) in holders.prefix(Self.legendLimit).enumerated() {
            lines.append("\(Self.letter(index))  \(TerminalText.escaped(holder))")
        }
        if holders.count > Self.legendLimit {
            lines.append("… and \(holders.count - Self.legendLimit) more holders")
        }
        return lines
    }

    static let waitingLabel = "  waiting"

    /// `HH:MM:SS` in UTC, as the axis labels it.
    static func clock(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down)) % 86400
        return String(format: "%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
    }
}
