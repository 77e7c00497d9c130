import Foundation
import LockMonitor
import LockReports
import RecordStore

/// The column header and the rows.
extension DashboardRenderer {
    static func drawColumnHeader(_ state: DashboardState, columns: TableColumns, on screen: inout Screen, row: Int) {
        screen.fill(x: 0, y: row, width: state.width, height: 1, style: CellStyle(.header, reverse: true))
        for column in columns.visible {
            var title = column.title
            if column.sort == state.sort { title += state.isSortDescending ? "▾" : "▴" }
            screen.put(
                title.fitted(to: column.width), x: column.x, y: row,
                style: CellStyle(.header, bold: true, reverse: true))
        }
    }

    /// The widest text of each column among the rows on screen, so a 32-character cache key or a
    /// whole UUID shows whole when there is room.
    static func contentWidths(_ state: DashboardState, rows height: Int) -> [TableColumns.Kind: Int] {
        var widths: [TableColumns.Kind: Int] = [:]
        for index in TableViewport(state: state, height: height).rows {
            for (kind, text) in cells(for: state.visibleRows[index], state: state) {
                widths[kind] = max(widths[kind] ?? 0, text.count)
            }
        }
        return widths
    }

    static func cells(for row: LockRow, state: DashboardState) -> [TableColumns.Kind: String] {
        var records = row.records.joined(separator: ",")
        if row.lockName == nil { records = "(no lock)" } else if row.shared { records = "[shared] " + records }
        // A lock file keys map to shows those keys, not the stem nobody used (`task.b,task.c` for `task.lock`).
        let key = row.lockName == nil ? row.key : Reports.lockTitle(key: row.key, records: row.records)
        let age = row.since.map { DurationText.format(state.now.timeIntervalSince($0)) } ?? ""
        // A cache hash names nothing: its task (or flow run) does, where evidence has it.
        let isHash = RecordKey.isCacheHash(row.key) || row.records.contains(where: RecordKey.isCacheHash)
        let task = isHash ? (row.prefectRun?.shortName).flatMap { $0.isEmpty ? nil : $0 } ?? "-" : ""
        if let releasedAt = row.releasedAt {
            // Kept for a moment after its release: how long it has been free, and its records.
            return [
                .key: key, .task: task, .state: StateStyle.of(row).label, .holder: "-", .wait: "", .expires: "",
                .poll: "",
                .held: "free " + DurationText.format(state.now.timeIntervalSince(releasedAt)), .records: records,
            ]
        }
        return [
            .key: key,
            .task: task,
            .state: StateStyle.of(row).label,
            .holder: row.holderText,
            .host: row.remoteHost ?? "",
            .wait: row.lockName == nil ? "" : row.waitText(now: state.now),
            .expires: row.lockName == nil
                ? ""
                : (row.state == .writing || row.state == .unreadable
                    ? "-" : Reports.countdown(to: row.expiration, now: state.now)),
            // A record holds nothing: its column says how old it is.
            .held: row.lockName == nil && !age.isEmpty ? "age " + age : age,
            .records: records,
            .poll: row.lockName == nil
                ? "" : (row.pollRate > 0 ? String(format: "%.0f/s", row.pollRate.rounded(.up)) : "-"),
        ]
    }

    static func drawTable(_ state: DashboardState, columns: TableColumns, region: Region, on screen: inout Screen) {
        if state.visibleRows.isEmpty {
            let text =
                state.filter.isEmpty
                ? "no locks or records in \(state.data.recordsDirectory)" : "nothing matches \"\(state.filter)\""
            screen.put("  " + text, x: 0, y: region.top, style: CellStyle(.dim))
            return
        }
        for (offset, line) in TableViewport(state: state, height: region.height).lines.enumerated() {
            let y = region.top + offset
            guard case .row(let index) = line else {
                let title = "─ records without a lock "
                screen.put(
                    title + String(repeating: "─", count: max(0, state.width - title.count)), x: 0, y: y,
                    style: CellStyle(.dim))
                continue
            }
            let row = state.visibleRows[index]
            let selected = row.id == state.selectedID
            if selected {
                screen.fill(x: 0, y: y, width: state.width, height: 1, style: CellStyle(.selection, reverse: true))
            }
            let values = cells(for: row, state: state)
            for column in columns.visible {
                let stateStyle = StateStyle.of(row)
                var style = CellStyle(column.kind == .state ? stateStyle.role : (row.lockName == nil ? .dim : .normal))
                if column.kind == .state, stateStyle.needsAttention { style.bold = true }
                if selected { style = CellStyle(.selection, bold: column.kind == .key || style.bold, reverse: true) }
                var text = values[column.kind] ?? ""
                // WAIT widens only into room to spare; without it, the count alone.
                if column.kind == .wait, text.count > column.width {
                    text = row.waitText(now: state.now, showingLongest: false)
                }
                screen.put(text.fitted(to: column.width), x: column.x, y: y, style: style)
            }
        }
    }
}
