import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// The real dashboard in tmux over a large directory: idle CPU, resident memory, and the time from
/// a lock file appearing to it showing on the screen (`capture-pane` polled every 2 ms; one capture
/// costs about 2 ms, which the figure includes).
enum DashboardLiveBenchmark {
    /// What one dashboard run measured.
    struct Figures {
        var startup: Double
        var recordsRead: Double
        var idleCPU: Double
        var rss: Double
        var latencies: [Double]
    }

    /// Options: `--records N`, `--locks N` (a tenth of the records unless given), `--idle SECONDS`, `--changes N`, `--poll SECONDS` (the dashboard's `--poll`),
    /// `--fuse` (the directory seen through a bindfs mount, written from underneath as another host would),
    /// `--baseline PATH` (another locktop binary, measured first in the same run).
    static func run(_ arguments: [String]) throws {
        let records = BenchSupport.option("records", in: arguments, default: 100_000)
        let locks = BenchSupport.option("locks", in: arguments, default: records / 10)
        let idleSeconds = BenchSupport.option("idle", in: arguments, default: 20)
        let samples = BenchSupport.option("changes", in: arguments, default: 30)
        let poll = BenchSupport.option("poll", in: arguments, default: 0)
        let fuse = arguments.contains("--fuse")
        let baseline = BenchSupport.text("baseline", in: arguments)
        let directory = try MonitorBenchmark.makeDirectory(records: records, locks: locks)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var shown = directory
        if fuse {
            shown = BenchSupport.temporaryDirectory("fuse")
            guard run("/usr/bin/bindfs", [directory, shown]).status == 0 else {
                throw RecordStoreError.system(operation: "mount with bindfs", path: shown, errno: ENODEV)
            }
        }
        defer {
            if fuse {
                // Lazily: the dashboard tmux was told to end may still hold the mount for a moment.
                _ = run("/bin/fusermount", ["-u", "-z", shown])
                rmdir(shown)
            }
        }
        let extra = poll > 0 ? ["--poll", String(poll)] : []
        let mode = fuse ? "through a FUSE mount (bindfs)" : poll > 0 ? "with --poll \(poll)" : "with inotify"
        print("the dashboard in tmux over \(records) records + \(locks) locks, \(mode)")
        var runs = [("locktop", MonitorBenchmark.locktopPath)]
        if let baseline { runs.insert(("baseline \(baseline)", baseline), at: 0) }
        var results: [Figures] = []
        for (name, binary) in runs {
            let figures = try measure(
                binary: binary, arguments: ["--dir", shown] + extra, writeInto: directory, records: records,
                idleSeconds: idleSeconds, samples: samples)
            results.append(figures)
            let sorted = figures.latencies.sorted()
            print("  \(name)")
            print(
                String(
                    format: "    startup to first screen %.2f s, every record read %.2f s", figures.startup,
                    figures.recordsRead))
            print(
                String(
                    format: "    idle CPU over %d s: %.2f%% of a core   RSS %.1f MiB", idleSeconds, figures.idleCPU,
                    figures.rss))
            print(
                String(
                    format: "    lock file created → on screen: median %.1f ms, max %.1f ms (%d changes)",
                    sorted[sorted.count / 2], sorted.last ?? 0, samples))
        }
        if results.count == 2 {
            print(
                String(
                    format: "  locktop vs baseline: idle CPU %.2fx, RSS %.2fx",
                    results[1].idleCPU / max(results[0].idleCPU, 0.01),
                    results[1].rss / max(results[0].rss, 0.01)))
        }
    }

    static func measure(
        binary: String, arguments: [String], writeInto directory: String, records: Int,
        idleSeconds: Int, samples: Int
    ) throws -> Figures {
        let socket = BenchSupport.temporaryDirectory("tmux") + "/tmux.sock"
        defer { _ = tmux(socket, ["kill-server"]) }
        _ = tmux(
            socket,
            [
                "new-session", "-d", "-x", "120", "-y", "35", "-e", "LANG=C.UTF-8",
                ([binary] + arguments).joined(separator: " "),
            ])
        var pid: Int32 = 0
        let started = MonotonicClock.seconds()
        while MonotonicClock.seconds() - started < 60 {
            if tmux(socket, ["capture-pane", "-p", "-t", "0"]).contains("records \(records)") {
                pid =
                    Int32(
                        tmux(socket, ["display-message", "-p", "-t", "0", "#{pane_pid}"]).trimmingCharacters(
                            in: .whitespacesAndNewlines)) ?? 0
                break
            }
            usleep(50_000)
        }
        guard pid > 0 else {
            throw RecordStoreError.system(operation: "start dashboard", path: directory, errno: ETIMEDOUT)
        }
        let startup = MonotonicClock.seconds() - started
        // Idle starts once the records read behind the first screen are in (the header says so until then).
        while MonotonicClock.seconds() - started < 120,
            tmux(socket, ["capture-pane", "-p", "-t", "0"]).contains("reading record")
        {
            usleep(50_000)
        }
        let recordsRead = MonotonicClock.seconds() - started
        sleep(2)
        let cpuBefore = cpuSeconds(pid)
        let wallBefore = MonotonicClock.seconds()
        sleep(UInt32(idleSeconds))
        let idleCPU = (cpuSeconds(pid) - cpuBefore) / (MonotonicClock.seconds() - wallBefore) * 100
        let rss = BenchSupport.residentMegabytes(process: String(pid))
        var latencies: [Double] = []
        for index in 0..<samples {
            let key = "zz-latency-\(index)"
            let start = MonotonicClock.seconds()
            _ = try LockFiles.create(
                path: "\(directory)/\(key).lock", bytes: LockFileContent(holder: "bench", expiration: nil).encoded())
            while !tmux(socket, ["capture-pane", "-p", "-t", "0"]).contains(key) {
                if MonotonicClock.seconds() - start > 10 { break }
                usleep(2_000)
            }
            latencies.append((MonotonicClock.seconds() - start) * 1000)
            try FileSystem.removeName("\(directory)/\(key).lock")
            // A random pause, so that changes do not fall at the same point of each poll interval.
            usleep(200_000 + UInt32.random(in: 0..<2_000_000))
        }
        return Figures(startup: startup, recordsRead: recordsRead, idleCPU: idleCPU, rss: rss, latencies: latencies)
    }

    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let closing = text.lastIndex(of: ")")
        else { return 0 }
        let fields = text[text.index(after: closing)...].split(separator: " ")
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Runs tmux against `socket` and returns what it printed.
    static func tmux(_ socket: String, _ arguments: [String]) -> String {
        run("tmux", ["-S", socket] + arguments).output
    }

    /// Runs a command (searched in PATH) to its end with every descriptor above 2 closed, so a
    /// daemon it leaves (the tmux server, bindfs) keeps none of ours; returns its status and output.
    static func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
        if let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            for name in names { if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) } }
        }
        let output = NSTemporaryDirectory() + "locktop-bench-run-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var cArguments = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        guard posix_spawnp(&pid, executable, &actions, nil, &cArguments, environ) == 0 else { return (127, "") }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return ((status >> 8) & 0xFF, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }
}
