import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// What watching processes with fanotify costs: the CPU of `locktop events` over a large directory,
/// idle and with Prefect waiters polling one lock, with fanotify and without (the baseline).
enum IdentityBenchmark {
    static func run(_ arguments: [String]) throws {
        let records = BenchSupport.option("records", in: arguments, default: 100_000)
        let locks = BenchSupport.option("locks", in: arguments, default: 10_000)
        let seconds = BenchSupport.option("seconds", in: arguments, default: 10)
        guard let python = BenchSupport.prefectPython(version: "3.9.1") else {
            print("identity needs the Prefect 3.9.1 venv (scripts/setup.sh)")
            return
        }
        if getuid() != 0 { print("note: not root, so fanotify is off in both runs") }
        let directory = try MonitorBenchmark.makeDirectory(records: records, locks: locks)
        let state = BenchSupport.temporaryDirectory("identity-state")
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: state)
        }
        _ = try LockFiles.create(
            path: "\(directory)/contended.lock",
            bytes: LockFileContent(holder: UUID().uuidString.lowercased(), expiration: nil).encoded())
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Tests/PrefectScripts/prefect_lock.py").path
        print("locktop events over \(records) records + \(locks) locks: CPU over \(seconds) s (% of one core)")
        var modes = [
            ("without fanotify (baseline)", MonitorBenchmark.locktopPath, ["--no-fanotify"]),
            ("with fanotify", MonitorBenchmark.locktopPath, []),
        ]
        // `--baseline PATH`: another locktop binary (the previous one), with fanotify, in the same run.
        let baseline = BenchSupport.text("baseline", in: arguments)
        if let baseline { modes.append(("previous binary, fanotify", baseline, [])) }
        var results: [String: (idle: Double, busy: Double)] = [:]
        for (mode, executable, extra) in modes {
            let environment = ProcessInfo.processInfo.environment.merging(["XDG_STATE_HOME": state]) { $1 }
            let events = try PipedProcess(
                executable, ["events", "--dir", directory, "--json"] + extra, environment: environment)
            defer { events.stop() }
            sleep(3)
            let idle = try cpuPercent(of: events.processID, over: seconds)
            let waiters = try (0..<4).map { _ in
                try PipedProcess(
                    python, [script, "acquire", directory, "contended", UUID().uuidString, "none", "600"],
                    environment: ProcessInfo.processInfo.environment.merging([
                        "PREFECT_HOME": state, "DO_NOT_TRACK": "1",
                    ]) { $1 })
            }
            defer { for waiter in waiters { waiter.stop() } }
            sleep(4)
            let busy = try cpuPercent(of: events.processID, over: seconds)
            results[mode] = (idle, busy)
            print(String(format: "  %-28@ idle %.2f%%   4 Prefect waiters %.2f%%", mode as NSString, idle, busy))
        }
        if let base = results["without fanotify (baseline)"], let watched = results["with fanotify"] {
            print(
                String(
                    format: "  fanotify adds %.2f points idle, %.2f points under 4 waiters (%.2fx the baseline)",
                    watched.idle - base.idle, watched.busy - base.busy, watched.busy / max(base.busy, 0.01)))
            if let previous = results["previous binary, fanotify"] {
                print(
                    String(
                        format: "  this binary vs the previous one, both with fanotify: %.2fx under 4 waiters",
                        watched.busy / max(previous.busy, 0.01)))
            }
        }
    }

    static func cpuPercent(of pid: Int32, over seconds: Int) throws -> Double {
        let start = DashboardLiveBenchmark.cpuSeconds(pid)
        let began = MonotonicClock.seconds()
        sleep(UInt32(seconds))
        return (DashboardLiveBenchmark.cpuSeconds(pid) - start) / (MonotonicClock.seconds() - began) * 100
    }
}
