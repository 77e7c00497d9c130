import Foundation
import RecordStore

/// Text in columns two spaces apart, as lslocks and ps print it: every cell escaped by
/// ``TerminalText``, each column as wide as its widest cell, the last one unpadded and no line
/// ending in spaces. The one layout of `list` and `audit`.
public struct TextTable {
    /// The rows, the headings first when there are any; cells are raw text, escaped here.
    public var rows: [[String]]
    /// The width to fit, nil for no limit (not a terminal).
    public var width: Int?
    /// The columns shrunk (with `…`) while the table is wider than ``width``, first to last.
    public var shrinkOrder: [Int] = []
    /// The narrowest each column may be shrunk to, by index; 4 when not given.
    public var floors: [Int: Int] = [:]
    /// Paints a cell after it is escaped and padded (colour on a terminal): row index, column index, text.
    public var paint: (Int, Int, String) -> String = { _, _, text in text }

    /// A table of `rows`.
    public init(_ rows: [[String]], width: Int? = nil) {
        self.rows = rows
        self.width = width
    }

    /// The lines of the table.
    public func lines() -> [String] {
        let cells = rows.map { $0.map(TerminalText.escaped) }
        guard let count = cells.map(\.count).max() else { return [] }
        var widths = (0..<count).map { index in cells.map { index < $0.count ? $0[index].count : 0 }.max() ?? 0 }
        if let width {
            // The last column has no gap after it.
            var excess = widths.reduce(0, +) + 2 * (count - 1) - width
            for index in shrinkOrder where excess > 0 && index < count {
                let cut = min(excess, max(0, widths[index] - (floors[index] ?? 4)))
                widths[index] -= cut
                excess -= cut
            }
        }
        return cells.enumerated().map { rowIndex, row in
            var line = row.enumerated().map { index, text in
                let fitted = text.count > widths[index] ? String(text.prefix(max(0, widths[index] - 1))) + "…" : text
                let padded =
                    index == row.count - 1
                    ? fitted : fitted.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                return paint(rowIndex, index, padded)
            }.joined(separator: "  ")
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }
    }
}
