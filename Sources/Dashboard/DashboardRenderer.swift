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
        case let .confirmRelease(row): drawConfirmRelease(row, state: state, on: &screen)
        case let .confirmForce(row, typed): drawConfirmForce(row, typed: typed, state: state, on: &screen)
        case let .confirmBreakAll(rows): drawConfirmBreakAll(rows, state: state, on: &screen)
        }
        return screen
    }

    // MARK: Parts

    static func drawTooSmall(_ state: DashboardState, on screen: inout Screen) {
        let lines = ["Terminal too small: \(state.width)x\(state.height).",
                     "locktop needs \(DashboardLayout.minimumWidth)x\(DashboardLayout.minimumHeight).", "q quits."]
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
        screen.put(" " + title, x: 0, y: 0, style: CellStyle(.title, bold: true, reverse: true), maxWidth: state.width - time.count - frozen.count - 2)
        screen.put(time, x: state.width - time.count - 1, y: 0, style: CellStyle(.title, bold: true, reverse: true))
        if state.isFrozen {
            screen.put(frozen, x: state.width - time.count - frozen.count - 1, y: 0, style: CellStyle(.expired, bold: true, reverse: true))
        }
        if let missing = state.data.missingDirectories.first {
            screen.put(" \(missing) does not exist; waiting for it", x: 0, y: 1, style: CellStyle(.expired, bold: true))
            return
        }
        var x = 0
        // Processes stuck behind a dead or unknown holder come first: it is what the operator must see.
        if let alert = blockedAlert(state) { x = screen.put(" ! \(alert) ", x: x, y: 1, style: CellStyle(.expired, bold: true)) }
        x = screen.put(" records \(state.data.recordCount)  locks \(state.data.lockCount)", x: x, y: 1, style: CellStyle(.header))
        for lockState in LockState.allCases {
            x = screen.put("  \(lockState.rawValue) ", x: x, y: 1, style: CellStyle(.header))
            let count = state.data.count(lockState)
            x = screen.put("\(count)", x: x, y: 1, style: CellStyle(StateStyle.of(lockState).role, bold: count > 0 && lockState != .held))
            if lockState == .held, state.data.unknownHolderCount > 0 {
                x = screen.put(" (\(state.data.unknownHolderCount) unknown)", x: x, y: 1, style: CellStyle(.unknown, bold: true))
            }
        }
    }

    /// `2 waiters blocked 3m30s behind a dead holder on "orders"`: the longest wait behind a holder
    /// that is dead or cannot be judged, when fanotify sees waiters.
    static func blockedAlert(_ state: DashboardState) -> String? {
        let blocked = state.data.blockingRowIDs.compactMap { state.data.row(withID: $0) }
        guard let row = blocked.min(by: { $0.waiters[0].since < $1.waiters[0].since }) else { return nil }
        let count = row.waiters.count == 1 ? "1 waiter" : "\(row.waiters.count) waiters"
        let holder = row.state == .stale ? "a dead" : "an unknown"
        return "\(count) blocked \(DurationText.format(state.now.timeIntervalSince(row.waiters[0].since))) behind \(holder) holder on \"\(row.key)\""
    }

    static func drawColumnHeader(_ state: DashboardState, columns: TableColumns, on screen: inout Screen, row: Int) {
        screen.fill(x: 0, y: row, width: state.width, height: 1, style: CellStyle(.header, reverse: true))
        for column in columns.visible {
            var title = column.title
            if column.sort == state.sort { title += state.isSortDescending ? "▾" : "▴" }
            screen.put(title.fitted(to: column.width), x: column.x, y: row, style: CellStyle(.header, bold: true, reverse: true))
        }
    }

    /// The widest text of each column among the rows on screen, so a 32-character cache key or a
    /// whole UUID shows whole when there is room.
    static func contentWidths(_ state: DashboardState, rows height: Int) -> [TableColumns.Kind: Int] {
        var widths: [TableColumns.Kind: Int] = [:]
        let end = min(state.visibleRows.count, state.scrollOffset + max(0, height))
        for index in state.scrollOffset..<max(state.scrollOffset, end) {
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
        let key = row.lockName == nil || row.records.isEmpty || row.records == [row.key] ? row.key : row.records.joined(separator: ",")
        let age = row.since.map { DurationText.format(state.now.timeIntervalSince($0)) } ?? ""
        return [
            .key: key,
            .state: StateStyle.of(row).label,
            .holder: row.holderText,
            .wait: row.lockName == nil ? "" : row.waitText,
            .expires: row.lockName == nil ? "" : (row.state == .writing || row.state == .unreadable ? "-" : Reports.countdown(to: row.expiration, now: state.now)),
            // A record holds nothing: its column says how old it is.
            .held: row.lockName == nil && !age.isEmpty ? "age " + age : age,
            .records: records,
            .poll: row.lockName == nil ? "" : (row.pollRate > 0 ? String(format: "%.0f/s", row.pollRate.rounded(.up)) : "-"),
        ]
    }

    static func drawTable(_ state: DashboardState, columns: TableColumns, region: Region, on screen: inout Screen) {
        if state.visibleRows.isEmpty {
            let text = state.filter.isEmpty ? "no locks or records in \(state.data.recordsDirectory)" : "nothing matches \"\(state.filter)\""
            screen.put("  " + text, x: 0, y: region.top, style: CellStyle(.dim))
            return
        }
        let end = min(state.visibleRows.count, state.scrollOffset + region.height)
        for (offset, index) in (state.scrollOffset..<end).enumerated() {
            let row = state.visibleRows[index]
            let y = region.top + offset
            let selected = row.id == state.selectedID
            if selected { screen.fill(x: 0, y: y, width: state.width, height: 1, style: CellStyle(.selection, reverse: true)) }
            let values = cells(for: row, state: state)
            for column in columns.visible {
                var style = CellStyle(column.kind == .state ? StateStyle.of(row).role : (row.lockName == nil ? .dim : .normal))
                if column.kind == .state, row.state != .held, row.state != nil { style.bold = true }
                if selected { style = CellStyle(.selection, bold: column.kind == .key || style.bold, reverse: true) }
                screen.put((values[column.kind] ?? "").fitted(to: column.width), x: column.x, y: y, style: style)
            }
        }
    }

    static func paneTitle(_ title: String, y: Int, on screen: inout Screen) {
        let text = "─ \(title) " + String(repeating: "─", count: max(0, screen.width))
        screen.put(text, x: 0, y: y, style: CellStyle(.accent, bold: true))
    }

    static func detailLines(_ row: LockRow, state: DashboardState) -> [String] {
        var lines: [String] = []
        guard row.lockName != nil else {
            lines.append("record \(row.key): no lock file (\(RecordKey.lockFileName(forKey: row.key)) does not exist)")
            if let since = row.since { lines.append("written \(DurationText.format(state.now.timeIntervalSince(since))) ago") }
            lines.append("summary: \(row.recordSummary ?? "-")")
            return lines
        }
        lines.append("holder: \(row.holder?.rawValue ?? "-")")
        lines += processLines(row, now: state.now)
        if let holder = row.holder, holder.hasProcessForm {
            var parts = "  host \(holder.hostName ?? "?")  pid \(holder.processID.map(String.init) ?? "?")  thread \(holder.threadID.map(String.init) ?? "?") \(holder.threadName ?? "")"
            if let task = holder.taskID { parts += "  task \(task)" }
            lines.append(parts)
        }
        let reason = row.reason == row.state?.rawValue ? "" : " (\(row.reason))"
        lines.append("state: \(StateStyle.of(row).label)\(reason); process \(row.liveness?.rawValue ?? "unknown")")
        let expiry = row.expiration.map { "\(PrefectTimestamp.format($0)) (\(Reports.countdown(to: $0, now: state.now)))" } ?? "never"
        let held = row.since.map { "held since \(PrefectTimestamp.format($0)) (\(DurationText.format(state.now.timeIntervalSince($0))))" }
        lines.append("expires: \(expiry)")
        lines.append(held ?? "held since -")
        lines.append("raw: \(row.rawJSON.isEmpty ? "(empty)" : row.rawJSON)")
        lines.append("records: \(row.records.isEmpty ? "-" : row.records.joined(separator: ", "))\(row.shared ? "  (shared lock file)" : "")")
        lines.append("record summary: \(row.recordSummary ?? "-")")
        let stats = row.statistics
        func seconds(_ value: TimeInterval?) -> String { value.map { String(format: "%.2fs", $0) } ?? "-" }
        lines.append("contention: \(stats.acquisitions) acquisitions, \(stats.handOffs) hand-offs, hold last \(seconds(stats.lastHold)) mean \(seconds(stats.meanHold)) max \(seconds(stats.maxHold)), waiters polling \(String(format: "%.1f", row.pollRate)) opens/s")
        return lines
    }

    /// The holder's process and, as a tree under it, the processes waiting for the lock.
    static func processLines(_ row: LockRow, now: Date) -> [String] {
        var lines: [String] = []
        if let process = row.holderProcess {
            var line = "  process: pid \(process.processID)"
            if let user = process.user { line += "  user \(user)" }
            if let start = process.startTime { line += "  started \(PrefectTimestamp.format(start))" }
            lines.append(line + "  \(row.liveness?.rawValue ?? "unknown") (from \(row.identitySource.rawValue))")
            lines.append("  command: \(process.command)")
            if let flowRun = process.flowRunID { lines.append("  flow run: \(flowRun)") }
        }
        for (index, waiter) in row.waiters.enumerated() {
            let branch = index == row.waiters.count - 1 ? "└─" : "├─"
            lines.append("  \(branch) waiting \(DurationText.format(now.timeIntervalSince(waiter.since))): pid \(waiter.process.summary)")
        }
        return lines
    }

    static func drawDetail(_ state: DashboardState, region: Region, on screen: inout Screen) {
        guard let row = state.selectedRow else {
            paneTitle("detail", y: region.top, on: &screen)
            return
        }
        paneTitle("detail: \(row.key)", y: region.top, on: &screen)
        // Long values (raw JSON, a holder, a command) wrap, indented, rather than being cut.
        let width = max(8, state.width - 2)
        let wrapped = detailLines(row, state: state).flatMap { line -> [String] in
            var pieces = [String(line.prefix(width))]
            var rest = line.dropFirst(width)
            while !rest.isEmpty {
                pieces.append("    " + rest.prefix(width - 4))
                rest = rest.dropFirst(width - 4)
            }
            return pieces
        }
        for (index, line) in wrapped.prefix(region.height - 1).enumerated() {
            screen.put(" " + line, x: 0, y: region.top + 1 + index)
        }
    }

    static func drawEvents(_ state: DashboardState, region: Region, on screen: inout Screen) {
        let events = state.shownEvents
        let scroll = min(state.eventScroll, max(0, events.count - (region.height - 1)))
        var title = "events"
        if state.focusesEvents { title += scroll > 0 ? " (focused; \(scroll) newer below; Tab leaves)" : " (focused; Tab leaves)" }
        paneTitle(title, y: region.top, on: &screen)
        // The log follows the filter, and the focused log scrolls back.
        let shown = events.dropLast(scroll).suffix(region.height - 1)
        if shown.isEmpty {
            screen.put(" no events yet", x: 0, y: region.top + 1, style: CellStyle(.dim))
        }
        for (index, event) in shown.enumerated() {
            let y = region.top + 1 + index
            var x = screen.put(" " + String(clock(event.time).prefix(8)) + " ", x: 0, y: y, style: CellStyle(.dim))
            let eventRole: ColorRole
            switch event.kind {
            case .acquired: eventRole = .held
            case .released: eventRole = .accent
            case .expired, .directoryMissing: eventRole = .expired
            case .broken: eventRole = .stale
            default: eventRole = .normal
            }
            x = screen.put(event.kind.rawValue.fitted(to: 9), x: x, y: y, style: CellStyle(eventRole, bold: true))
            var text = " \(event.key)"
            if let holder = event.holder { text += "  by \(holder)" }
            if let previous = event.previousHolder { text += "  was \(previous)" }
            if let brokenBy = event.brokenBy { text += "  broken by \(brokenBy)" }
            if let reason = event.reason { text += "  (\(reason))" }
            if let detail = event.detail { text += "  \(detail)" }
            screen.put(text, x: x, y: y)
        }
    }

    static func drawStatus(_ state: DashboardState, row: Int, on screen: inout Screen) {
        if state.isEditingFilter {
            screen.put(" filter: /\(state.filter)█   Enter keeps, Esc clears", x: 0, y: row, style: CellStyle(.accent, bold: true))
        } else if let message = state.message {
            screen.put(" " + message, x: 0, y: row, style: CellStyle(.accent, bold: true))
        } else if !state.filter.isEmpty {
            screen.put(" filter: \(state.filter)  (\(state.visibleRows.count) of \(state.data.rows.count); Esc clears)", x: 0, y: row, style: CellStyle(.accent))
        } else {
            let height = DashboardLayout(state: state).table.height
            let range = state.visibleRows.count > height
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
                  used + key.count + label.count + 1 <= state.width else { continue }
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

    // MARK: Dialogs

    static func drawBox(title: String, lines: [String], state: DashboardState, on screen: inout Screen, role: ColorRole = .dialog) {
        let width = min(state.width - 2, max(title.count + 6, (lines.map(\.count).max() ?? 0) + 4))
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

    /// `The lock is EXPIRED: expired 12s ago.`, naming the state once.
    static func stateSentence(_ row: LockRow) -> String {
        let label = StateStyle.of(row).label
        return row.reason == row.state?.rawValue ? "The lock is \(label)." : "The lock is \(label): \(row.reason)."
    }

    /// The holder, its process when known, and the countdown, ticking with the clock.
    static func holderLines(_ row: LockRow, state: DashboardState) -> [String] {
        var process = row.liveness.map { "process \($0.rawValue)" } ?? "process unknown"
        if let pid = row.holderProcessID { process += " (pid \(pid))" }
        return ["Holder: \(row.holder?.rawValue ?? "-")  \(process)",
                "Expires: \(Reports.countdown(to: row.expiration, now: state.now))"]
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
        lines.append("It is taken aside, checked and logged to the audit log.")
        if let change = state.change(since: judged, needsForce: false) {
            lines.append("! CHANGED: the lock \(change) since you pressed r; y will not break it")
        }
        lines += ["", "y  break it        n / Esc  keep it"]
        drawBox(title: "Break \(StateStyle.of(row).label) lock \(row.key)?", lines: lines, state: state, on: &screen)
    }

    static func drawConfirmForce(_ judged: LockRow, typed: String, state: DashboardState, on screen: inout Screen) {
        let row = state.data.row(withID: judged.id) ?? judged
        var lines = [stateSentence(row)] + holderLines(row, state: state)
        lines.append("Breaking it lets another process in while this one may still run.")
        if let change = state.change(since: judged, needsForce: true) {
            lines.append("! CHANGED: the lock \(change) since you pressed r; it will not be broken")
        }
        lines += ["", "To force it, type the key \"\(judged.key)\" and press Enter (or Ctrl-F).", "> \(typed)█", "Esc keeps it."]
        drawBox(title: "Force-break \(StateStyle.of(row).label) lock \(row.key)?", lines: lines, state: state, on: &screen, role: .expired)
    }

    static func drawConfirmBreakAll(_ judged: [LockRow], state: DashboardState, on screen: inout Screen) {
        let room = max(1, state.height - 9)
        var lines = ["Break these \(judged.count) expired or stale locks?", ""]
        for judgedRow in judged.prefix(room) {
            let row = state.data.row(withID: judgedRow.id) ?? judgedRow
            var line = "\(StateStyle.of(row).label.fitted(to: 8)) \(row.key)  \(row.reason)"
            if let change = state.change(since: judgedRow, needsForce: false) {
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
        drawBox(title: "locktop help", lines: keys + [
            "",
            "held        live lock         EXPIRED  past its expiration",
            "held?       held, but its holder's process cannot be judged here",
            "STALE       holder gone or held past --stale-after",
            "UNREADABLE  empty or garbled  writing  being written now",
            "POLL        lock file opens/s by waiters (a lower bound)",
            "",
            "Any key closes this help.",
        ], state: state, on: &screen)
    }
}
