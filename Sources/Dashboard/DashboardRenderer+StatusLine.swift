import Foundation
import LockMonitor
import RecordStore

/// The status line and the footer of keys.
extension DashboardRenderer {
    static func drawStatus(_ state: DashboardState, row: Int, on screen: inout Screen) {
        if state.isEditingFilter {
            screen.put(
                " filter: /\(state.filter)█   Enter keeps, Esc clears", x: 0, y: row,
                style: CellStyle(.accent, bold: true))
        } else if let message = state.message {
            screen.put(" " + message, x: 0, y: row, style: CellStyle(.accent, bold: true))
        } else if !state.filter.isEmpty {
            screen.put(
                " filter: \(state.filter)  (\(state.visibleRows.count) of \(state.data.rows.count); Esc clears)", x: 0,
                y: row, style: CellStyle(.accent))
        } else {
            let height = DashboardLayout(state: state).table.height
            let range =
                state.visibleRows.count > height
                ? "rows \(state.scrollOffset + 1)-\(min(state.visibleRows.count, state.scrollOffset + height)) of \(state.visibleRows.count)"
                : state.visibleRows.count == 1 ? "1 row" : "\(state.visibleRows.count) rows"
            let records = state.showsRecords ? "" : "  records hidden (R)"
            screen.put(" sort: \(state.sortText)  \(range)\(records)", x: 0, y: row, style: CellStyle(.dim))
        }
    }

    static func drawFooter(_ state: DashboardState, row: Int, on screen: inout Screen) {
        screen.fill(x: 0, y: row, width: state.width, height: 1, style: CellStyle(.footerLabel, reverse: true))
        let bindings = KeyBindings.footer(isReadOnly: state.isReadOnly)
        var shown: [KeyAction] = []
        var used = 0
        for action in KeyBindings.importance {
            guard let (key, label) = bindings.first(where: { $0.action == action })?.footer,
                used + key.count + label.count + 1 <= state.width
            else { continue }
            shown.append(action)
            used += key.count + label.count + 1
        }
        var x = 0
        for binding in bindings where shown.contains(binding.action) {
            guard let (key, label) = binding.footer else { continue }
            x = screen.put(key, x: x, y: row, style: CellStyle(.footerKey, bold: true))
            x = screen.put(label + " ", x: x, y: row, style: CellStyle(.footerLabel, reverse: true))
        }
    }
}
