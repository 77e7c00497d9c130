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
            screen.put(
                " " + state.data.store.unreachableText(missing), x: 0, y: 1, style: CellStyle(.expired, bold: true))
            return
        }
        if let trouble = state.data.storeTrouble {
            screen.put(" ! \(trouble)", x: 0, y: 1, style: CellStyle(.expired, bold: true))
            return
        }
        var x = 0
        let counts = countSegments(state)
        // A deadlock, else processes stuck behind a dead or unknown holder, come first: it is what
        // the operator must see. Where it does not fit beside the counts, it has the next line, shortened to the width;
        // without a line to spare, it is shortened (`2 waiters blocked on "orders"`) before the
        // counts are, and cut to the room they leave.
        if let alert = headerAlert(state) {
            let room = state.width - counts.map(\.text.count).reduce(0, +)
            if headerHeight(state) > 2 {
                let text = [alert.whole, alert.medium, alert.short].map { " ! \($0) " }.first {
                    $0.count <= state.width
                }
                screen.put(
                    (text ?? " ! \(alert.short) ").fitted(to: state.width), x: 0, y: 2,
                    style: CellStyle(.expired, bold: true))
            } else if let text = [alert.whole, alert.medium, alert.short].map({ " ! \($0) " }).first(where: {
                $0.count <= room
            }) {
                x = screen.put(text, x: x, y: 1, style: CellStyle(.expired, bold: true))
            } else if room >= 8 {
                x = screen.put(
                    " ! \(alert.short) ".fitted(to: room), x: x, y: 1, style: CellStyle(.expired, bold: true))
            }
        }
        for segment in counts { x = screen.put(segment.text, x: x, y: 1, style: segment.style) }
    }

    /// The header's lines: the title and the counts, and the blocked alert's own line when it does
    /// not fit beside the counts (and the terminal has the rows to spare).
    static func headerHeight(_ state: DashboardState) -> Int {
        guard let alert = headerAlert(state), state.height >= 12 else { return 2 }
        let counts = countSegments(state).map(\.text.count).reduce(0, +)
        return " ! \(alert.whole) ".count + counts > state.width ? 3 : 2
    }

    /// The counts line's pieces: the records (where the store has them), the locks, and each
    /// state's count (suspect only when there is one: most directories never have any). Where
    /// they do not fit the width, the labels are short and the states at 0 are left out.
    static func countSegments(_ state: DashboardState) -> [(text: String, style: CellStyle)] {
        let whole = countSegments(state, compact: false)
        return whole.map(\.text.count).reduce(0, +) <= state.width ? whole : countSegments(state, compact: true)
    }

    private static func countSegments(_ state: DashboardState, compact: Bool) -> [(text: String, style: CellStyle)] {
        let records =
            state.data.store.holdsRecords
            ? (compact ? " rec \(state.data.recordCount)" : " records \(state.data.recordCount) ") : ""
        var segments = [(text: "\(records) locks \(state.data.lockCount)", style: CellStyle(.header))]
        for lockState in LockState.allCases where lockState != .suspect || state.data.count(.suspect) > 0 {
            let count = state.data.count(lockState)
            if compact, count == 0 { continue }
            segments.append((compact ? " \(shortLabel(lockState)) " : "  \(lockState.rawValue) ", CellStyle(.header)))
            segments.append(
                ("\(count)", CellStyle(StateStyle.of(lockState).role, bold: count > 0 && lockState != .held)))
            if lockState == .held, state.data.unknownHolderCount > 0 {
                let unknown =
                    compact ? "(\(state.data.unknownHolderCount)?)" : " (\(state.data.unknownHolderCount) unknown)"
                segments.append((unknown, CellStyle(.unknown, bold: true)))
            }
        }
        return segments
    }

    /// A state's name in the narrow counts line.
    private static func shortLabel(_ state: LockState) -> String {
        switch state {
        case .held: return "held"
        case .expired: return "exp"
        case .stale: return "stale"
        case .unreadable: return "unread"
        case .writing: return "writ"
        case .suspect: return "susp"
        }
    }

    /// The header's alert, in three lengths: a deadlock's (``deadlockAlert(_:)``), else the blocked one's.
    static func headerAlert(_ state: DashboardState) -> (whole: String, medium: String, short: String)? {
        deadlockAlert(state) ?? blockedAlert(state)
    }

    /// `deadlock: orders ⇄ billing (pid 4242, pid 4250)`, shorter `deadlock: orders ⇄ billing`,
    /// shortest `deadlock (2 locks)`; `possible deadlock` when a holder in the cycle is not known
    /// alive. The first deadlock, certain ones first, with a count of the others.
    static func deadlockAlert(_ state: DashboardState) -> (whole: String, medium: String, short: String)? {
        guard let first = state.data.deadlocks.first else { return nil }
        let name = first.isCertain ? "deadlock" : "possible deadlock"
        let others = state.data.deadlocks.count > 1 ? " and \(state.data.deadlocks.count - 1) more" : ""
        return (
            "\(name): \(first.summary)\(others)", "\(name): \(first.cycle)\(others)",
            "\(name) (\(first.links.count) locks)"
        )
    }

    /// `2 waiters blocked 3m30s behind a dead holder on "orders"`, shorter `2 waiters blocked
    /// 3m30s on "orders"`, shortest `2 waiters blocked on "orders"`: the longest wait behind a
    /// holder that is dead or cannot be judged, when fanotify sees waiters.
    static func blockedAlert(_ state: DashboardState) -> (whole: String, medium: String, short: String)? {
        let blocked = state.data.blockingRowIDs.compactMap { id in
            state.data.row(withID: id).flatMap { row in row.waiters.first.map { (row, $0.since) } }
        }
        guard let (row, since) = blocked.min(by: { $0.1 < $1.1 }) else { return nil }
        let count = row.waiters.count == 1 ? "1 waiter" : "\(row.waiters.count) waiters"
        let holder = row.state == .stale ? "a dead" : "an unknown"
        let waited = DurationText.format(state.now.timeIntervalSince(since))
        return (
            "\(count) blocked \(waited) behind \(holder) holder on \"\(row.key)\"",
            "\(count) blocked \(waited) on \"\(row.key)\"", "\(count) blocked on \"\(row.key)\""
        )
    }
}
