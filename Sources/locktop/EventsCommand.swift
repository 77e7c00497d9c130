import ArgumentParser
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

    func run() throws {
        let source = try watch.makeSource(directories, judgement)
        if !json { Console.warn("watching \(source.location) (\(source.watchText)); Ctrl-C stops") }
        if let notice = source.notice { Console.warn(notice) }
        let loop = MonitorLoop(source: source)
        while true {
            let events = loop.turn().events
            for event in events {
                if json {
                    Console.write(bytes: Reports.eventJSONLine(event))
                } else {
                    Console.write(Reports.eventText(event))
                }
            }
        }
    }
}
