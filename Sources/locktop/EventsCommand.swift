import ArgumentParser
import Dashboard
import Foundation
import LockMonitor
import LockReports
import RecordStore

struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Stream lock events as they happen: acquired, released, expired, broken, changed.",
        discussion:
            "With --json, one JSON object per line with at least time, type and key, flushed at once. Runs until interrupted."
    )

    @OptionGroup var directories: DirectoryOptions
    @OptionGroup var judgement: JudgementOptions

    @Flag(help: "One JSON object per line.")
    var json = false

    @OptionGroup var watch: WatchOptions
    @OptionGroup var recording: RecordOptions

    func run() throws {
        // Recording keeps the rows too (what `replay` shows), so it follows the dashboard's source.
        let next: () -> [MonitorEvent]
        let source: LockSource
        if let settings = try recording.settings() {
            let rows = try watch.makeDashboardSource(directories, judgement, recordRows: false)
            source = rows.lockSource
            let live = LiveRows(source: rows, recorder: try recording.makeRecorder(settings, source: source.location))
            Console.warn("recording into \(settings.path)")
            next = { live.step().events }
        } else {
            source = try watch.makeSource(directories, judgement)
            let loop = MonitorLoop(source: source)
            next = { loop.turn().events }
        }
        if !json { Console.warn("watching \(source.location) (\(source.watchText)); Ctrl-C stops") }
        if let notice = source.notice { Console.warn(notice) }
        while true {
            for event in next() {
                if json {
                    Console.write(bytes: Reports.eventJSONLine(event))
                } else {
                    Console.write(Reports.eventText(event))
                }
            }
        }
    }
}
