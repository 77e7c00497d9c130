import ArgumentParser
import Foundation
import LockMonitor
import RecordStore
#if canImport(Glibc)
import Glibc
#endif

struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Stream lock events as they happen: acquired, released, expired, broken, changed.",
        discussion: "With --json, one JSON object per line with at least time, type and key, flushed at once. Runs until interrupted.")

    @OptionGroup var directories: DirectoryOptions
    @OptionGroup var judgement: JudgementOptions

    @Flag(help: "One JSON object per line.")
    var json = false

    @OptionGroup var watch: WatchOptions

    func run() throws {
        let monitor = try watch.makeMonitor(directories, judgement)
        if !json { Console.warn("watching \(monitor.snapshot.recordsDirectory) (\(monitor.watchMode.text)); Ctrl-C stops") }
        var nextTick = MonotonicClock.seconds() + 1
        while true {
            let wait = max(0, nextTick - MonotonicClock.seconds())
            var events: [MonitorEvent] = []
            if let descriptor = monitor.fileDescriptor {
                var pollDescriptor = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                if Glibc.poll(&pollDescriptor, 1, Int32(wait * 1000)) > 0 { events += monitor.processChanges() }
            } else {
                usleep(useconds_t(wait * 1_000_000))
            }
            if MonotonicClock.seconds() >= nextTick {
                events += monitor.tick()
                nextTick = MonotonicClock.seconds() + 1
            }
            for event in events {
                if json { Console.write(bytes: Reports.eventJSONLine(event)) } else { Console.write(Reports.eventText(event)) }
            }
        }
    }
}
