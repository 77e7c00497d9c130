import Foundation
import LockMonitor
import RecordStore

/// Draws a ``DashboardState`` into a ``Screen``. Pure: the same state always gives the same grid.
public enum DashboardRenderer {
    /// Renders `state` into a new screen of its size.
    public static func render(_ state: DashboardState) -> Screen {
        var screen = Screen(width: state.width, height: state.height)
        let layout = DashboardLayout(state: state)
        if layout.isTooSmall {
            drawTooSmall(state, on: &screen)
            return screen
        }
        drawHeader(state, on: &screen)
        let columns = TableColumns(width: state.width, contentWidths: contentWidths(state, rows: layout.table.height))
        drawColumnHeader(state, columns: columns, on: &screen, row: layout.columnHeader.top)
        drawTable(state, columns: columns, region: layout.table, on: &screen)
        if let region = layout.detail { drawDetail(state, region: region, on: &screen) }
        if let region = layout.events { drawEvents(state, region: region, on: &screen) }
        drawStatus(state, row: layout.status.top, on: &screen)
        drawFooter(state, row: layout.footer.top, on: &screen)
        switch state.mode {
        case .browsing: break
        case .help: drawHelp(state, on: &screen)
        case .blocking: drawBlocking(state, on: &screen)
        case .confirmRelease(let row): drawConfirmRelease(row, state: state, on: &screen)
        case .confirmForce(let row, let typed): drawConfirmForce(row, typed: typed, state: state, on: &screen)
        case .confirmBreakAll(let rows): drawConfirmBreakAll(rows, state: state, on: &screen)
        case .confirmSignal(let row, let target, let signal):
            drawConfirmSignal(row, target: target, signal: signal, state: state, on: &screen)
        case .chooseDeadlockLock(let deadlock): drawChooseDeadlockLock(deadlock, state: state, on: &screen)
        }
        return screen
    }
}
