import Foundation
import RecordStore

/// What `--record` costs: `locktop events` with and without it, side by side on one directory in
/// the same run, idle and at `--rate` lock events per second; CPU in percentage points of one
/// core, and the journal's bytes per event.
enum RecordBenchmark {
    static func run(_ arguments: [String]) throws {
        let seconds = BenchSupport.option("seconds", in: arguments, default: 30)
        let rate = BenchSupport.option("rate", in: arguments, default: 100)
        let directory = try MonitorBenchmark.makeDirectory(records: 1_000, locks: 100)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = BenchSupport.temporaryDirectory("state")
        let journal = BenchSupport.temporaryDirectory("journal") + "/journal.db"
        func start(_ extra: [String]) throws -> Process {
            let events = Process()
            events.executableURL = URL(fileURLWithPath: MonitorBenchmark.locktopPath)
            events.arguments = ["events", "--dir", directory, "--json", "--no-fanotify"] + extra
            events.environment = ProcessInfo.processInfo.environment.merging(["XDG_STATE_HOME": state]) { $1 }
            events.standardOutput = FileHandle.nullDevice
            events.standardError = FileHandle.nullDevice
            try events.run()
            return events
        }
        let plain = try start([])
        let recording = try start(["--record", journal])
        defer {
            for process in [plain, recording] {
                process.terminate()
                process.waitUntilExit()
            }
        }
        // Both read the records' table a part per tick after start: idle is once that is done.
        sleep(10)
        let idle = try measure([plain, recording], for: Double(seconds)) { usleep(100_000) }
        let sizeBefore = journalBytes(journal)
        let writtenBefore = [plain, recording].map { writtenBytes(of: $0.processIdentifier) }
        // Each cycle makes a lock file and removes it: two events.
        let cycles = Double(seconds) * Double(rate) / 2
        var made = 0
        let interval = 2.0 / Double(rate)
        let loaded = try measure([plain, recording], for: Double(seconds)) {
            let key = "bench-\(made % 50)"
            _ = try? LockFiles.create(
                path: "\(directory)/\(key).lock",
                bytes: LockFileContent(holder: "bench-\(made)", expiration: nil).encoded())
            usleep(UInt32(interval * 500_000))
            try? FileSystem.removeName("\(directory)/\(key).lock")
            usleep(UInt32(interval * 500_000))
            made += 1
        }
        sleep(2)
        let events = Double(max(1, made * 2))
        let perEvent = Double(journalBytes(journal) - sizeBefore) / events
        let written = zip([plain, recording], writtenBefore).map { Double(writtenBytes(of: $0.processIdentifier) - $1) }
        // Both write the same JSON lines; what the recording one writes beyond that is the journal's.
        let writtenPerEvent = (written[1] - written[0]) / events
        print(
            "record: locktop events with and without --record, \(seconds) s idle, then \(seconds) s at \(rate) events/s"
        )
        print(
            String(
                format: "  idle CPU: without %.3f%%, with %.3f%% (+%.3f points)", idle[0], idle[1], idle[1] - idle[0]))
        print(
            String(
                format: "  at %d events/s (%d cycles of %.0f): without %.2f%%, with %.2f%% (+%.2f points)", rate, made,
                cycles, loaded[0], loaded[1], loaded[1] - loaded[0]))
        print(
            String(
                format: "  journal: grew %.0f bytes per event (file and write-ahead log); wrote %.0f bytes per event",
                perEvent, writtenPerEvent))
    }

    /// Runs `step` over and over for `seconds`; returns each process's CPU over that time, in percent of one core.
    private static func measure(_ processes: [Process], for seconds: Double, step: () throws -> Void) throws
        -> [Double]
    {
        let before = processes.map { cpuSeconds(of: $0.processIdentifier) }
        let started = MonotonicClock.seconds()
        while MonotonicClock.seconds() - started < seconds { try step() }
        let elapsed = MonotonicClock.seconds() - started
        return zip(processes, before).map { process, then in
            (cpuSeconds(of: process.processIdentifier) - then) / elapsed * 100
        }
    }

    /// User and system CPU seconds of `pid`, from `/proc/PID/stat`.
    static func cpuSeconds(of pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Fields 14 and 15 of the whole line are the 12th and 13th after the command's ")".
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The bytes `pid` wrote through write(2) and the like (`wchar` of `/proc/PID/io`).
    static func writtenBytes(of pid: Int32) -> Int {
        guard let io = try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8),
            let line = io.split(separator: "\n").first(where: { $0.hasPrefix("wchar:") })
        else { return 0 }
        return Int(line.split(separator: " ").last ?? "") ?? 0
    }

    private static func journalBytes(_ path: String) -> Int {
        [path, path + "-wal"].reduce(0) { total, file in
            total + (((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int) ?? 0)
        }
    }
}
