import Foundation
import LockMonitor
import LockReports
import RecordStore

/// The confirmation dialogs and the help box.
extension DashboardRenderer {
    static func drawBox(
        title: String, lines: [String], state: DashboardState, on screen: inout Screen, role: ColorRole = .dialog
    ) {
        let width = min(state.width - 2, max(title.count + 6, (lines.map(\.count).max() ?? 0) + 4))
        // A dialog wider than the screen wraps its lines at word boundaries rather than losing their ends.
        let lines = lines.flatMap { TextWrap.wrap($0, width: width - 4, indent: "  ") }
        let height = min(state.height - 2, lines.count + 2)
        let x = (state.width - width) / 2
        let y = max(1, (state.height - height) / 2)
        let style = CellStyle(role, bold: true)
        screen.fill(x: x, y: y, width: width, height: height, style: CellStyle(role))
        screen.put("┌" + String(repeating: "─", count: width - 2) + "┐", x: x, y: y, style: style)
        screen.put("┤ \(title) ├", x: x + 2, y: y, style: style, maxWidth: width - 4)
        for index in 1..<(height - 1) {
            screen.put("│", x: x, y: y + index, style: style)
            screen.put("│", x: x + width - 1, y: y + index, style: style)
            if index - 1 < lines.count {
                screen.put(lines[index - 1], x: x + 2, y: y + index, style: CellStyle(role), maxWidth: width - 4)
            }
        }
        screen.put("└" + String(repeating: "─", count: width - 2) + "┘", x: x, y: y + height - 1, style: style)
    }

    /// `The lock is EXPIRED: expired 12s ago.`
    static func stateSentence(_ row: LockRow) -> String {
        "The lock is \(StateStyle.of(row).label): \(row.reason)."
    }

    /// The holder, its process when known, and the countdown, ticking with the clock.
    static func holderLines(_ row: LockRow, state: DashboardState) -> [String] {
        var process = row.liveness.map { "process \($0.rawValue)" } ?? "process unknown"
        if let pid = row.holderProcessID { process += " (pid \(pid))" }
        return [
            "Holder: \(row.holder?.rawValue ?? "-")  \(process)",
            "Expires: \(Reports.countdown(to: row.expiration, now: state.now))",
        ]
    }

    /// How a break is made, as the release dialog says it.
    static func breakMethod(_ store: LockStoreKind) -> String {
        switch store {
        case .directory: return "It is taken aside, checked and logged to the audit log."
        case .redis: return "It is deleted only while it holds the token shown, and logged to the audit log."
        }
    }

    /// What forcing a live lock does to its holder, as the force dialog says it.
    static func forceConsequence(_ store: LockStoreKind) -> String {
        switch store {
        case .directory: return "Breaking it lets another process in while this one may still run."
        case .redis:
            return
                "Its holder's release will raise LockNotOwnedError; a waiter may get in meanwhile, and both may write the result."
        }
    }

    /// The warning before breaking a lock whose holder still runs, nil otherwise.
    static func aliveWarning(_ row: LockRow) -> String? {
        guard row.liveness == .alive else { return nil }
        let pid = row.holderProcessID.map { "pid \($0)" } ?? "process"
        return "! holder \(pid) is still running: breaking lets a second worker run the same task"
    }

    static func drawConfirmRelease(_ judged: LockRow, state: DashboardState, on screen: inout Screen) {
        let row = state.data.row(withID: judged.id) ?? judged
        var lines = [stateSentence(row)] + holderLines(row, state: state)
        if let warning = aliveWarning(row) { lines.append(warning) }
        lines.append(breakMethod(state.data.store))
        if row.state == .suspect {
            lines.append("! nothing shows its holder dead: if it still runs, a second worker will run the same task")
        }
        if let change = state.change(since: judged, authority: .confirmed) {
            lines.append("! CHANGED: the lock \(change) since you pressed r; y will not break it")
        }
        lines += ["", "y  break it        n / Esc  keep it"]
        drawBox(title: "Break \(StateStyle.of(row).label) lock \(row.key)?", lines: lines, state: state, on: &screen)
    }

    static func drawConfirmForce(_ judged: LockRow, typed: String, state: DashboardState, on screen: inout Screen) {
        let row = state.data.row(withID: judged.id) ?? judged
        var lines = [stateSentence(row)] + holderLines(row, state: state)
        lines.append(forceConsequence(state.data.store))
        if let change = state.change(since: judged, authority: .forced) {
            lines.append("! CHANGED: the lock \(change) since you pressed r; it will not be broken")
        }
        lines += [
            "", "To force it, type the key \"\(judged.key)\" and press Enter (or Ctrl-F).", "> \(typed)█",
            "Esc keeps it.",
        ]
        drawBox(
            title: "Force-break \(StateStyle.of(row).label) lock \(row.key)?", lines: lines, state: state, on: &screen,
            role: .expired)
    }

    static func drawConfirmSignal(
        _ row: LockRow, target: HolderSignal.Target, signal: HolderSignal.Signal, state: DashboardState,
        on screen: inout Screen
    ) {
        var lines = [
            "pid \(target.processID) holds \(row.key).", "Command: \(TerminalText.escaped(target.command))",
        ]
        if signal == .kill, let sent = state.lastSignal {
            lines.append(
                "It had SIGTERM \(DurationText.format(state.now.timeIntervalSince(sent.at))) ago and still runs: SIGKILL ends it at once."
            )
        } else {
            lines.append("SIGTERM asks it to stop: Prefect unwinds the task, and its lock is released.")
        }
        lines.append("It is sent only to this very process (checked by start time), and logged to the audit log.")
        lines += ["", "y  send \(signal.rawValue)        n / Esc  keep it running"]
        drawBox(
            title: "Send \(signal.rawValue) to the holder of \(row.key)?", lines: lines, state: state, on: &screen,
            role: signal == .kill ? .expired : .dialog)
    }

    static func drawChooseDeadlockLock(
        _ deadlock: WaitForGraph.Deadlock, state: DashboardState, on screen: inout Screen
    ) {
        var lines = [
            deadlock.isCertain
                ? "Each of these processes waits for a lock the next one holds: none can go on."
                : "These processes may wait for each other: a holder in the cycle is not known to be alive.",
            "Breaking one lock lets its waiter in; its holder's commit then fails.", "",
        ]
        for (index, link) in deadlock.links.enumerated() {
            let key = RecordKey.shownKey(ofLockName: link.lockName)
            lines.append(
                "\(index + 1)  \(key), held by pid \(link.holderProcessID) \(TerminalText.escaped(link.holderCommand))")
        }
        lines += ["", "1–\(deadlock.links.count) choose the lock to break (confirmed next)        Esc  break nothing"]
        drawBox(
            title: (deadlock.isCertain ? "Deadlock: " : "Possible deadlock: ") + deadlock.summary, lines: lines,
            state: state, on: &screen, role: .expired)
    }

    static func drawConfirmBreakAll(_ judged: [LockRow], state: DashboardState, on screen: inout Screen) {
        let room = max(1, state.height - 9)
        let question =
            judged.count == 1
            ? "Break this expired or stale lock?" : "Break these \(judged.count) expired or stale locks?"
        var lines = [question, ""]
        for judgedRow in judged.prefix(room) {
            let row = state.data.row(withID: judgedRow.id) ?? judgedRow
            var line = "\(StateStyle.of(row).label.fitted(to: 8)) \(row.key)  \(row.reason)"
            if let change = state.change(since: judgedRow, authority: .unattended) {
                line += "  CHANGED: \(change), skipped"
            } else if row.liveness == .alive {
                line += "  ! holder\(row.holderProcessID.map { " pid \($0)" } ?? "") still running"
            }
            lines.append(line)
        }
        if judged.count > room { lines.append("… and \(judged.count - room) more") }
        lines += ["", "y  break them all        n / Esc  cancel"]
        drawBox(title: "Break expired and stale locks", lines: lines, state: state, on: &screen)
    }

    /// The blocking tree of ``DashboardData/waitForGraph``, as `list --blocking` prints it, cut to
    /// the screen with a count of what is left out.
    static func drawBlocking(_ state: DashboardState, on screen: inout Screen) {
        var lines = BlockingReport.lines(state.data.waitForGraph.blockingTree(at: state.now), now: state.now)
        let room = max(1, state.height - 4)
        if lines.count > room {
            let left = lines.count - (room - 1)
            lines = Array(lines.prefix(room - 1)) + ["… \(left) more lines: locktop list --blocking prints them all"]
        }
        drawBox(title: "who blocks whom (any key closes)", lines: lines, state: state, on: &screen)
    }

    static func drawHelp(_ state: DashboardState, on screen: inout Screen) {
        let keys = KeyBindings.helpLines(isReadOnly: state.isReadOnly)
        if state.width < 70 || state.height < keys.count + 10 {
            // Too small for the whole table: the keys only, packed, as many as fit.
            var lines: [String] = []
            for binding in KeyBindings.byImportance(isReadOnly: state.isReadOnly) {
                let item = "\(binding.keyText) \(binding.name)"
                if let last = lines.last, last.count + item.count + 2 <= state.width - 6 {
                    lines[lines.count - 1] = last + "  " + item
                } else {
                    lines.append(item)
                }
            }
            drawBox(title: "keys (any key closes)", lines: lines, state: state, on: &screen)
            return
        }
        drawBox(
            title: "locktop help",
            lines: keys + [
                "",
                "held        live lock         EXPIRED  past its expiration",
                "held?       held, but its holder's process cannot be judged here",
                "STALE       its holder is proven dead (gone, pid reused, seen dying)",
                "SUSPECT     held past --stale-after (or its usual hold); nothing proves it dead",
                "UNREADABLE  empty or garbled  writing  being written now  free  just released",
                "POLL        lock file opens/s by waiters (a lower bound)",
                "",
                "Any key closes this help.",
            ], state: state, on: &screen)
    }
}
