import Foundation
import LockMonitor
import LockReports
import RecordStore

/// The detail pane and the event log.
extension DashboardRenderer {
    static func paneTitle(_ title: String, y: Int, on screen: inout Screen) {
        let text = "─ \(title) " + String(repeating: "─", count: max(0, screen.width))
        screen.put(text, x: 0, y: y, style: CellStyle(.accent, bold: true))
    }

    static func detailLines(_ row: LockRow, state: DashboardState) -> [String] {
        let details = state.details?.rowID == row.id ? state.details : nil
        var lines: [String] = []
        guard row.lockName != nil else {
            lines.append("record \(row.key): no lock file (\(RecordKey.lockFileName(forKey: row.key)) does not exist)")
            if let since = row.since {
                lines.append("written \(DurationText.format(state.now.timeIntervalSince(since))) ago")
            }
            lines.append("summary: \(details?.recordSummary ?? "-")")
            // Its lock file is free now; what it saw while held stays in view across a hand-off.
            if row.statistics.acquisitions > 0 || row.statistics.completedHolds > 0 {
                lines.append(
                    "\(RecordKey.lockFileName(forKey: row.key)) is free; "
                        + contentionText(row, store: state.data.store))
            }
            return lines
        }
        if let releasedAt = row.releasedAt, let lockName = row.lockName {
            let grace = DurationText.format(DashboardState.releaseGrace(of: row))
            lines.append(
                "\(lockName) is free, for \(DurationText.format(state.now.timeIntervalSince(releasedAt))) now (\(row.reason)); its row stays \(grace) after the lock goes"
            )
            if state.data.store.holdsRecords {
                lines.append("records: \(row.records.isEmpty ? "-" : row.records.joined(separator: ", "))")
            }
            lines.append(contentionText(row, store: state.data.store))
            return lines
        }
        lines.append("holder: \(row.holder?.rawValue ?? "-")")
        let process = row.holderProcess ?? details?.holderProcess
        lines += processLines(row, process: process, now: state.now)
        if let run = row.prefectRun ?? PrefectRun(content: nil, process: process) {
            lines.append("  prefect: \(run.description)")
        }
        if let holder = row.holder, holder.hasProcessForm {
            var parts =
                "  host \(holder.hostName ?? "?")  pid \(holder.processID.map(String.init) ?? "?")  thread \(holder.threadID.map(String.init) ?? "?") \(holder.threadName ?? "")"
            if let task = holder.taskID { parts += "  task \(task)" }
            lines.append(parts)
        }
        let reason = row.reason == row.state?.rawValue ? "" : " (\(row.reason))"
        lines.append("state: \(StateStyle.of(row).label)\(reason); process \(row.liveness?.rawValue ?? "unknown")")
        lines += evidenceLines(row)
        let expiry =
            row.expiration.map { "\(PrefectTimestamp.format($0)) (\(Reports.countdown(to: $0, now: state.now)))" }
            ?? "never"
        let store = state.data.store
        // A Redis key has no time of its own: its age is since this locktop first saw it.
        let since = store.knowsWhenTaken ? "held since" : "first seen by locktop"
        let held = row.since.map {
            "\(since) \(PrefectTimestamp.format($0)) (\(DurationText.format(state.now.timeIntervalSince($0))))"
        }
        lines.append("expires: \(expiry)")
        lines.append(held ?? "\(since) -")
        lines.append("raw: \(row.rawJSON.isEmpty ? "(empty)" : row.rawJSON)")
        if store.holdsRecords {
            lines.append(
                "records: \(row.records.isEmpty ? "-" : row.records.joined(separator: ", "))\(row.shared ? "  (shared lock file)" : "")"
            )
            lines.append("record summary: \(details?.recordSummary ?? "-")")
        }
        lines.append(contentionText(row, store: store))
        if let recent = recentContentionText(row) { lines.append(recent) }
        return lines
    }

    /// `last minute: 12 acquisitions, hold p95 0.42s; waited 1m10s in 5m; waiters over 10m |▁▂▅█ |`,
    /// when anyone took or waited for the lock lately.
    static func recentContentionText(_ row: LockRow) -> String? {
        guard row.acquisitionsPerMinute > 0 || !row.waiterHistory.isEmpty else { return nil }
        var text =
            "last minute: \(ListTable.count(row.acquisitionsPerMinute, "acquisition")), hold p95 \(row.statistics.typicalHold.map { String(format: "%.2fs", $0) } ?? "-")"
        if row.waitedRecently > 0 {
            text +=
                "; waited \(DurationText.format(row.waitedRecently)) in the last \(DurationText.format(ContentionStatistics.hotWindow))"
        }
        if !row.waiterHistory.isEmpty {
            text +=
                "; waiters over \(DurationText.format(ContentionStatistics.waitHistoryWindow)) |\(Sparkline.draw(row.waiterHistory))|"
        }
        return text
    }

    /// `contention: 12 acquisitions, 1 hand-off, hold last 0.20s mean 0.25s max 1.00s, waiters polling 3.0 opens/s`.
    static func contentionText(_ row: LockRow, store: LockStoreKind) -> String {
        let stats = row.statistics
        func seconds(_ value: TimeInterval?) -> String { value.map { String(format: "%.2fs", $0) } ?? "-" }
        let polling = store.seesPolling ? ", waiters polling \(String(format: "%.1f", row.pollRate)) opens/s" : ""
        return
            "contention: \(ListTable.count(stats.acquisitions, "acquisition")), \(ListTable.count(stats.handOffs, "hand-off")), hold last \(seconds(stats.lastHold)) mean \(seconds(stats.meanHold)) max \(seconds(stats.maxHold))\(polling)"
    }

    /// `evidence (judged by agent):` and one line per testimony: its source, verdict, when it was
    /// last true, and its reason. Nothing when no source speaks of the holder.
    static func evidenceLines(_ row: LockRow) -> [String] {
        guard !row.evidence.isEmpty else { return [] }
        let sourceWidth = row.evidence.map(\.source.rawValue.count).max() ?? 0
        return ["evidence (judged by \(row.judgedBy.rawValue)):"]
            + row.evidence.map { testimony in
                let source = testimony.source.rawValue.padding(toLength: sourceWidth, withPad: " ", startingAt: 0)
                let verdict = testimony.verdict.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
                return "  \(source)  \(verdict)  \(DurationText.timeOfDay(testimony.observedAt))  \(testimony.reason)"
            }
    }

    /// The holder's `process` and, as a tree under it, the processes waiting for the lock.
    static func processLines(_ row: LockRow, process: ProcessDetails?, now: Date) -> [String] {
        var lines: [String] = []
        if let process {
            var line = "  process: pid \(process.processID)"
            if let user = process.user { line += "  user \(user)" }
            if let start = process.startTime { line += "  started \(PrefectTimestamp.format(start))" }
            lines.append(line + "  \(row.liveness?.rawValue ?? "unknown") (from \(row.identitySource.rawValue))")
            lines.append("  command: \(process.command)")
        }
        for (index, waiter) in row.waiters.enumerated() {
            let branch = index == row.waiters.count - 1 ? "└─" : "├─"
            lines.append(
                "  \(branch) waiting \(DurationText.format(now.timeIntervalSince(waiter.since))): pid \(waiter.process.summary) @\(waiter.process.hostName)"
            )
        }
        return lines
    }

    /// The detail pane's lines for the selected row, wrapped to the width at word boundaries and
    /// indented where a long value (raw JSON, a holder, a command) goes on.
    static func detailText(_ state: DashboardState) -> [String] {
        guard let row = state.selectedRow else { return [] }
        let width = max(8, state.width - 2)
        return detailLines(row, state: state).flatMap { TextWrap.wrap($0, width: width, indent: "    ") }
    }

    static func drawDetail(_ state: DashboardState, region: Region, on screen: inout Screen) {
        guard let row = state.selectedRow else {
            paneTitle("detail", y: region.top, on: &screen)
            return
        }
        let lines = detailText(state)
        let shown = region.height - 1
        let scroll = max(0, min(state.detailScroll, lines.count - shown))
        var title = "detail: \(row.key)"
        let below = lines.count - shown - scroll
        if state.focus == .detail {
            title +=
                " (focused; lines \(scroll + 1)-\(min(lines.count, scroll + shown)) of \(lines.count); Tab moves on)"
        } else if below > 0 {
            title += " (\(ListTable.count(below, "more line")) below: Tab to scroll)"
        }
        paneTitle(title, y: region.top, on: &screen)
        for (index, line) in lines.dropFirst(scroll).prefix(shown).enumerated() {
            screen.put(" " + line, x: 0, y: region.top + 1 + index)
        }
    }

    static func drawEvents(_ state: DashboardState, region: Region, on screen: inout Screen) {
        let events = state.shownEvents
        let scroll = min(state.eventScroll, max(0, events.count - (region.height - 1)))
        var title = "events"
        if state.focusesEvents {
            title += scroll > 0 ? " (focused; \(scroll) newer below; Tab leaves)" : " (focused; Tab leaves)"
        }
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
            // Names longer than the column (`disconnected`, `directory_replaced`) push the text right, whole.
            let kind = event.kind.rawValue
            x = screen.put(
                kind.count < 9 ? kind.fitted(to: 9) : kind, x: x, y: y, style: CellStyle(eventRole, bold: true))
            screen.put(" " + Reports.eventSummary(event), x: x, y: y)
        }
    }
}
