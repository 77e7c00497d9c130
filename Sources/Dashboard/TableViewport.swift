/// Which rows the table's lines show: the visible rows from the scroll offset, with the `records`
/// divider taking one line above the first row of a record without a lock (lock rows always sort
/// first). Drawing, clicks and scrolling all go through it, so they agree on what is where.
public struct TableViewport: Equatable, Sendable {
    /// One line of the table region.
    public enum Line: Equatable, Sendable {
        /// The visible row at this index.
        case row(Int)
        /// The `records` divider.
        case divider
    }

    /// The lines, top to bottom; fewer than the region's height when the rows end.
    public let lines: [Line]

    /// The lines of `state`'s table in a region `height` lines tall.
    public init(state: DashboardState, height: Int) {
        let divider = Self.counts(divider: state.recordDividerIndex, height: height)
        var lines: [Line] = []
        var index = state.scrollOffset
        while lines.count < height, index < state.visibleRows.count {
            // Drawn only with room for a row under it.
            if index == divider, lines.count + 1 < height { lines.append(.divider) }
            lines.append(.row(index))
            index += 1
        }
        self.lines = lines
    }

    /// The visible rows on screen.
    public var rows: [Int] {
        lines.compactMap { if case .row(let index) = $0 { return index } else { return nil } }
    }

    /// The row drawn on line `offset` of the region, nil for the divider or past the rows.
    public func row(atLine offset: Int) -> Int? {
        guard lines.indices.contains(offset), case .row(let index) = lines[offset] else { return nil }
        return index
    }

    /// The scroll offset, moved as little as possible from `offset`, that shows row `index` among
    /// `count` rows in `height` lines, and leaves no empty lines under the last row.
    public static func offset(showing index: Int, from offset: Int, count: Int, height: Int, divider: Int?) -> Int {
        let divider = counts(divider: divider, height: height)
        func lines(from first: Int, to last: Int) -> Int {
            last - first + 1 + (divider.map { first <= $0 && $0 <= last } == true ? 1 : 0)
        }
        func firstShowing(_ last: Int) -> Int {
            var first = max(0, last - height + 1)
            if lines(from: first, to: last) > height { first += 1 }
            return min(first, last)
        }
        var result = offset
        if index < result {
            result = index
        } else if lines(from: result, to: index) > height {
            result = firstShowing(index)
        }
        return max(0, min(result, count > 0 ? firstShowing(count - 1) : 0))
    }

    /// The divider takes a line only when the region has room for it and a row.
    private static func counts(divider: Int?, height: Int) -> Int? {
        height >= 2 ? divider : nil
    }
}
