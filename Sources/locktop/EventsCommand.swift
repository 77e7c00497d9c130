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
        if let notice = monitor.identityNotice { Console.warn(notice) }
        var nextTick = MonotonicClock.seconds() + 1
        while true {
            let wait = max(0, nextTick - MonotonicClock.seconds())
            var events: [MonitorEvent] = []
            var descriptors = [monitor.fileDescriptor, monitor.identityDescriptor].compactMap { $0 }
                .map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if Glibc.poll(&descriptors, nfds_t(descriptors.count), Int32(wait * 1000)) > 0 { events += monitor.processChanges() }
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
