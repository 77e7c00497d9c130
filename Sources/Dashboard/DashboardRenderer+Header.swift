import Foundation
import LockMonitor
import RecordStore

/// The title line, the counts line, and the too-small notice.
extension DashboardRenderer {
    static func drawTooSmall(_ state: DashboardState, on screen: inout Screen) {
        let lines = [
            "Terminal too small: \(state.width)x\(state.height).",
            "locktop needs \(DashboardLayout.minimumWidth)x\(DashboardLayout.minimumHeight).", "q quits.",
        ]
        for (index, line) in lines.enumerated() {
            let y = state.height / 2 - 1 + index
            screen.put(line, x: max(0, (state.width - line.count) / 2), y: y, style: CellStyle(.expired, bold: true))
        }
    }

    static func clock(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let day = ((seconds % 86400) + 86400) % 86400
        return String(format: "%02d:%02d:%02d UTC", day / 3600, day % 3600 / 60, day % 60)
    }

    static func drawHeader(_ state: DashboardState, on screen: inout Screen) {
        screen.fill(x: 0, y: 0, width: state.width, height: 1, style: CellStyle(.title, reverse: true))
        let time = clock(state.now)
        var directories = state.data.recordsDirectory
        if state.data.locksDirectory != state.data.recordsDirectory { directories += " + \(state.data.locksDirectory)" }
        let title = "locktop  \(directories)  [\(state.data.watch)]" + (state.isReadOnly ? "  READ-ONLY" : "")
        let frozen = state.isFrozen ? "FROZEN " : ""
        screen.put(
            " " + title, x: 0, y: 0, style: CellStyle(.title, bold: true, reverse: true),
            maxWidth: state.width - time.count - frozen.count - 2)
        screen.put(time, x: state.width - time.count - 1, y: 0, style: CellStyle(.title, bold: true, reverse: true))
        if state.isFrozen {
            screen.put(
                frozen, x: state.width - time.count - frozen.count - 1, y: 0,
                style: CellStyle(.expired, bold: true, reverse: true))
        }
        if let missing = state.data.missingDirectories.first {
            screen.put(" \(missing) does not exist; waiting for it", x: 0, y: 1, style: CellStyle(.expired, bold: true))
            return
        }
        var x = 0
        // Processes stuck behind a dead or unknown holder come first: it is what the operator must see.
        if let alert = blockedAlert(state) {
            x = screen.put(" ! \(alert) ", x: x, y: 1, style: CellStyle(.expired, bold: true))
        }
        let records = state.data.store.holdsRecords ? " records \(state.data.recordCount) " : ""
        x = screen.put("\(records) locks \(state.data.lockCount)", x: x, y: 1, style: CellStyle(.header))
        // A suspect count shows when there is one: most directories never have any.
        for lockState in LockState.allCases where lockState != .suspect || state.data.count(.suspect) > 0 {
            x = screen.put("  \(lockState.rawValue) ", x: x, y: 1, style: CellStyle(.header))
            let count = state.data.count(lockState)
            x = screen.put(
                "\(count)", x: x, y: 1,
                style: CellStyle(StateStyle.of(lockState).role, bold: count > 0 && lockState != .held))
            if lockState == .held, state.data.unknownHolderCount > 0 {
                x = screen.put(
                    " (\(state.data.unknownHolderCount) unknown)", x: x, y: 1, style: CellStyle(.unknown, bold: true))
            }
        }
    }

    /// `2 waiters blocked 3m30s behind a dead holder on "orders"`: the longest wait behind a holder
    /// that is dead or cannot be judged, when fanotify sees waiters.
    static func blockedAlert(_ state: DashboardState) -> String? {
        let blocked = state.data.blockingRowIDs.compactMap { id in
            state.data.row(withID: id).flatMap { row in row.waiters.first.map { (row, $0.since) } }
        }
        guard let (row, since) = blocked.min(by: { $0.1 < $1.1 }) else { return nil }
        let count = row.waiters.count == 1 ? "1 waiter" : "\(row.waiters.count) waiters"
        let holder = row.state == .stale ? "a dead" : "an unknown"
        return
            "\(count) blocked \(DurationText.format(state.now.timeIntervalSince(since))) behind \(holder) holder on \"\(row.key)\""
    }
}
