import Foundation
import LockMonitor
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// The monitor and CLI benchmarks over a large directory: `list --json`, event latency,
/// incremental updates against a full rescan, and memory.
enum MonitorBenchmark {
    /// A directory with `records` record files and `locks` lock files in a mix of states.
    static func makeDirectory(records: Int, locks: Int) throws -> String {
        let directory = BenchSupport.temporaryDirectory("dir")
        let record = Array(#"{"type":"reference","serializer_type":"pickle","storage_key":"abc"}"#.utf8)
        for index in 0..<records {
            _ = try FileSystem.createExclusive("\(directory)/record-\(index)", bytes: record)
        }
        let now = Date()
        for index in 0..<locks {
            let content = LockFileContent(
                holder: UUID().uuidString.lowercased(),
                expiration: index % 3 == 0 ? nil : now.addingTimeInterval(index % 2 == 0 ? 600 : -60))
            _ = try LockFiles.create(
                path: "\(directory)/record-\(index * (records / max(locks, 1))).lock", bytes: content.encoded())
        }
        return directory
    }

    static var locktopPath: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("locktop")
            .path
    }

    static func wallSeconds(_ executable: String, _ arguments: [String]) throws -> Double {
        try BenchSupport.time { _ = try BenchSupport.output(of: executable, arguments) }
    }

    static let pythonList = """
        import json, os, sys
        records, locks = [], []
        with os.scandir(sys.argv[1]) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if entry.name.endswith(".lock"):
                    with open(entry.path) as f:
                        locks.append({"key": entry.name[:-5], "info": json.load(f), "mtime": st.st_mtime})
                else:
                    records.append({"key": entry.name, "size": st.st_size, "mtime": st.st_mtime})
        sys.stdout.write(json.dumps({"records": records, "locks": locks}))
        """

    static func list(_ arguments: [String]) throws {
        let records = BenchSupport.option("records", in: arguments, default: 100_000)
        let locks = BenchSupport.option("locks", in: arguments, default: 10_000)
        let rounds = BenchSupport.option("rounds", in: arguments, default: 3)
        let directory = try makeDirectory(records: records, locks: locks)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var commands: [(String, String, [String])] = [
            ("find -printf (floor)", "/usr/bin/find", [directory, "-maxdepth", "1", "-printf", "%f %s %T@\\n"]),
            ("python scandir+stat+json.load", "/usr/bin/env", ["python3", "-c", pythonList, directory]),
            ("locktop list --json", locktopPath, ["list", "--dir", directory, "--json"]),
        ]
        // `--baseline PATH`: another locktop binary (the previous one), measured in the same run.
        if let baseline = BenchSupport.text("baseline", in: arguments) {
            commands.append(("baseline list --json", baseline, ["list", "--dir", directory, "--json"]))
        }
        for (_, executable, arguments) in commands { _ = try wallSeconds(executable, arguments) }
        var medians: [String: Double] = [:]
        for (name, executable, arguments) in commands {
            medians[name] = BenchSupport.median(try (0..<rounds).map { _ in try wallSeconds(executable, arguments) })
        }
        let python = medians["python scandir+stat+json.load"]!
        let floor = medians["find -printf (floor)"]!
        print("list over \(records) records + \(locks) locks, warm cache, median of \(rounds) (ms, whole process)")
        for (name, _, _) in commands {
            let value = medians[name]!
            print(
                String(
                    format: "  %-32@ %8.1f   %.2fx Python, %.2fx the floor", name as NSString, value * 1000,
                    value / python, value / floor))
        }
        if let ours = medians["locktop list --json"], let baseline = medians["baseline list --json"] {
            print(String(format: "  locktop is %.2fx the baseline's time", ours / baseline))
        }
    }

    static func events(_ arguments: [String]) throws {
        let count = BenchSupport.option("events", in: arguments, default: 300)
        let records = BenchSupport.option("records", in: arguments, default: 100_000)
        let directory = try makeDirectory(records: records, locks: 0)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: locktopPath)
        process.arguments = ["events", "--dir", directory, "--json"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let reader = pipe.fileHandleForReading.fileDescriptor
        usleep(1_500_000)
        var buffer = [UInt8](repeating: 0, count: 65536)
        var pending = ""
        var latencies: [Double] = []
        for index in 0..<count {
            let key = "latency-\(index)"
            let start = MonotonicClock.seconds()
            _ = try LockFiles.create(
                path: "\(directory)/\(key).lock", bytes: LockFileContent(holder: "bench", expiration: nil).encoded())
            while !pending.contains("\"key\": \"\(key)\"") {
                let count = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
                guard count > 0 else {
                    throw RecordStoreError.system(operation: "read events", path: locktopPath, errno: EIO)
                }
                pending += String(decoding: buffer[..<count], as: UTF8.self)
            }
            latencies.append((MonotonicClock.seconds() - start) * 1000)
            pending = ""
            try FileSystem.removeName("\(directory)/\(key).lock")
            usleep(5_000)
        }
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        print(
            "lock file created → `locktop events --json` line read, \(count) events in a \(records)-record directory (ms)"
        )
        print(
            String(
                format: "  p50 %.2f   p90 %.2f   p99 %.2f   max %.2f", percentile(0.5), percentile(0.9),
                percentile(0.99), sorted.last!))
    }

    static func update(_ arguments: [String]) throws {
        let records = BenchSupport.option("records", in: arguments, default: 100_000)
        let locks = BenchSupport.option("locks", in: arguments, default: 10_000)
        let changes = BenchSupport.option("changes", in: arguments, default: 200)
        let directory = try makeDirectory(records: records, locks: locks)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rssBefore = BenchSupport.residentMegabytes()
        let monitor = try LockMonitor(configuration: .init(recordsDirectory: directory))
        let rssAfter = BenchSupport.residentMegabytes()
        let scansBefore = monitor.scanCount
        let loop = MonitorLoop(source: monitor)
        var updates: [Double] = []
        for index in 0..<changes {
            let path = "\(directory)/record-7.lock"
            try LockFiles.replace(
                path: path, bytes: LockFileContent(holder: "holder-\(index)", expiration: nil).encoded())
            // The event is queued once the write returns: the turn finds it at once, as the dashboard's would.
            updates.append(BenchSupport.time { _ = loop.turn(timeout: 0) } * 1000)
        }
        let incrementalScans = monitor.scanCount - scansBefore
        let rescans = (0..<3).map { _ in BenchSupport.time { monitor.rescan() } * 1000 }
        let update = BenchSupport.median(updates)
        let rescan = BenchSupport.median(rescans)
        print("one lock changes in a \(records)-record, \(locks)-lock directory → model updated by one loop turn (ms)")
        print(
            String(
                format: "  incremental (inotify)  median %.3f  max %.3f   rescans during updates: %d", update,
                updates.max() ?? 0, incrementalScans))
        print(
            String(
                format: "  full rescan (baseline) median %.1f   incremental is %.0fx faster", rescan, rescan / update))
        print(
            String(
                format: "RSS holding the model: %.1f MiB (process %.1f MiB, of which %.1f before the scan)",
                rssAfter - rssBefore, rssAfter, rssBefore))
    }

    /// One idle poll of a large directory (nothing changed) against a full rescan, the baseline.
    static func idlePoll(_ arguments: [String]) throws {
        let records = BenchSupport.option("records", in: arguments, default: 100_000)
        let locks = BenchSupport.option("locks", in: arguments, default: 10_000)
        let directory = try makeDirectory(records: records, locks: locks)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // An idle directory: every lock file last written an hour ago, none young enough to be watched closely.
        for file in try DirectoryListing.list(DirectoryHandle.open(directory)) where file.name.hasSuffix(".lock") {
            var times = [
                timespec(tv_sec: time(nil) - 3600, tv_nsec: 0), timespec(tv_sec: time(nil) - 3600, tv_nsec: 0),
            ]
            utimensat(AT_FDCWD, "\(directory)/\(file.name)", &times, AT_SYMLINK_NOFOLLOW)
        }
        let interval = 2.0
        let monitor = try LockMonitor(
            configuration: .init(recordsDirectory: directory, forcedPollInterval: interval, watchesProcesses: false))
        var polls: [Double] = []
        for _ in 0..<6 {
            usleep(useconds_t(interval * 1_000_000))
            polls.append(BenchSupport.time { _ = monitor.tick() } * 1000)
        }
        var movedPolls: [Double] = []
        for index in 0..<4 {
            _ = try LockFiles.create(
                path: "\(directory)/moved-\(index).lock",
                bytes: LockFileContent(holder: "bench", expiration: nil).encoded())
            usleep(useconds_t(interval * 1_000_000))
            movedPolls.append(BenchSupport.time { _ = monitor.tick() } * 1000)
        }
        let watching = try LockMonitor(configuration: .init(recordsDirectory: directory, watchesProcesses: false))
        let ticks = (0..<20).map { _ in BenchSupport.time { _ = watching.tick() } * 1000 }
        let rescans = (0..<3).map { _ in BenchSupport.time { monitor.rescan() } * 1000 }
        print("one idle poll every 2 s (nothing changed) over \(records) records + \(locks) locks (ms)")
        print(
            String(
                format: "  poll median %.2f  max %.2f   full rescan (baseline) median %.1f   poll is %.3fx the rescan",
                BenchSupport.median(polls), polls.max() ?? 0, BenchSupport.median(rescans),
                BenchSupport.median(polls) / BenchSupport.median(rescans)))
        print(
            String(
                format: "  poll after a lock file came (the directory moved): median %.1f  max %.1f",
                BenchSupport.median(movedPolls), movedPolls.max() ?? 0))
        print(String(format: "  an inotify tick, for comparison: median %.2f", BenchSupport.median(ticks)))
    }
}
