import Foundation
import RecordStore
import RedisStore

/// prefect-redis locks on a private redis-server: a snapshot of 10k locks among 100k other keys
/// vs redis-py's SCAN + MGET + PTTL, a `SET` → `events --redis --json` line, and idle CPU.
enum RedisBenchmark {
    static func run(_ arguments: [String]) throws {
        let locks = BenchSupport.option("locks", in: arguments, default: 10_000)
        let others = BenchSupport.option("others", in: arguments, default: 100_000)
        let rounds = BenchSupport.option("events", in: arguments, default: 200)
        let directory = BenchSupport.temporaryDirectory("redis")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = 20_000 + Int(getpid() % 20_000)
        let server = try PipedProcess(
            "/usr/bin/redis-server",
            [
                "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", directory, "--notify-keyspace-events", "K$gx",
            ],
            environment: ProcessInfo.processInfo.environment)
        defer { server.stop() }
        _ = try server.waitFor("Ready to accept connections")
        let url = "redis://127.0.0.1:\(port)/0"
        let connection = try RedisConnection(url: RedisURL(url), timeout: 30)
        for start in stride(from: 0, to: others + locks, by: 1000) {
            let batch = (start..<min(others + locks, start + 1000)).map { index in
                (index < others
                    ? ["SET", "result:\(index)", #"{"metadata": {"storage_key": "x"}}"#]
                    : ["SET", "lock:key-\(index)", UUID().uuidString])
                    .map { Array($0.utf8) }
            }
            _ = try connection.pipeline(batch)
        }
        let store = RedisLockStore(connection: connection)
        var found = 0
        let snapshots = try (0..<5).map { _ in try BenchSupport.time { found = try store.locks().count } * 1000 }
        let snapshot = BenchSupport.median(snapshots)
        print("snapshot of \(found) prefect-redis locks among \(others) other keys (ms, median of 5)")
        if let python = BenchSupport.prefectPython(version: "3.9.1") {
            let script = """
                import redis, time, statistics
                r = redis.Redis(port=\(port))
                def snap():
                    found = 0
                    for_cursor = 0
                    while True:
                        for_cursor, names = r.scan(for_cursor, match="lock:*", count=1000)
                        if names:
                            p = r.pipeline(transaction=False)
                            p.mget(names)
                            for n in names: p.pttl(n)
                            found += sum(1 for v in p.execute()[0] if v is not None)
                        if for_cursor == 0: return found
                times = []
                for _ in range(5):
                    t = time.perf_counter(); snap(); times.append((time.perf_counter() - t) * 1000)
                print(statistics.median(times))
                """
            let baseline =
                Double(
                    try BenchSupport.output(of: python, ["-c", script]).trimmingCharacters(in: .whitespacesAndNewlines))
                ?? .nan
            print(
                String(
                    format: "  locktop %.1f   redis-py (baseline) %.1f   locktop is %.2fx redis-py's time", snapshot,
                    baseline, snapshot / baseline))
        } else {
            print(
                String(
                    format: "  locktop %.1f   (no Prefect 3.9.1 venv for the redis-py baseline; run scripts/setup.sh)",
                    snapshot))
        }

        let state = BenchSupport.temporaryDirectory("redis-state")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let environment = ProcessInfo.processInfo.environment.merging(["XDG_STATE_HOME": state]) { $1 }
        // `--baseline PATH`: the whole `list --redis --json` of another locktop binary against this one, in the same run.
        if let baseline = BenchSupport.text("baseline", in: arguments) {
            var medians: [Double] = []
            for binary in [baseline, MonitorBenchmark.locktopPath] {
                let list = {
                    _ = try BenchSupport.output(
                        of: binary, ["list", "--redis", url, "--json"], environment: environment)
                }
                try list()
                medians.append(BenchSupport.median(try (0..<5).map { _ in try BenchSupport.time(list) }) * 1000)
            }
            print(
                String(
                    format: "  list --redis --json: baseline %.1f   locktop %.1f ms   %.2fx the baseline", medians[0],
                    medians[1], medians[1] / medians[0]))
        }
        let events = try PipedProcess(
            MonitorBenchmark.locktopPath, ["events", "--redis", url, "--json"], environment: environment)
        defer { events.stop() }
        usleep(1_500_000)
        let idle = try IdentityBenchmark.cpuPercent(of: events.processID, over: 32)
        var latencies: [Double] = []
        for index in 0..<rounds {
            let start = MonotonicClock.seconds()
            _ = try connection.command(["SET", "lock:latency-\(index)", "bench", "NX"])
            latencies.append((try events.waitFor(#""type": "acquired", "key": "latency-\#(index)""#) - start) * 1000)
            _ = try connection.command(["DEL", "lock:latency-\(index)"])
        }
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        print(
            "SET lock:<key> → `locktop events --redis --json` line read, \(rounds) rounds with \(found) locks watched (ms)"
        )
        print(
            String(
                format: "  p50 %.2f   p90 %.2f   p99 %.2f   max %.2f", percentile(0.5), percentile(0.9),
                percentile(0.99), sorted.last!))
        print(
            String(
                format:
                    "idle CPU of `locktop events --redis` over 32 s (one 30 s re-read of every lock included): %.2f%%",
                idle))
        events.stop()

        // The dashboard itself, in tmux: first screen, idle CPU (rendering included), RSS.
        let socket = BenchSupport.temporaryDirectory("redis-tmux") + "/tmux.sock"
        defer { _ = DashboardLiveBenchmark.tmux(socket, ["kill-server"]) }
        let started = MonotonicClock.seconds()
        _ = DashboardLiveBenchmark.tmux(
            socket,
            [
                "new-session", "-d", "-x", "120", "-y", "35", "-e", "LANG=C.UTF-8", "-e", "XDG_STATE_HOME=\(state)",
                "\(MonitorBenchmark.locktopPath) --redis \(url)",
            ])
        var pid: Int32 = 0
        while MonotonicClock.seconds() - started < 60 {
            if DashboardLiveBenchmark.tmux(socket, ["capture-pane", "-p", "-t", "0"]).contains("locks \(found)") {
                pid =
                    Int32(
                        DashboardLiveBenchmark.tmux(socket, ["display-message", "-p", "-t", "0", "#{pane_pid}"])
                            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
                break
            }
            usleep(20_000)
        }
        guard pid > 0 else {
            throw RecordStoreError.system(operation: "start the dashboard on", path: url, errno: ETIMEDOUT)
        }
        let firstScreen = MonotonicClock.seconds() - started
        sleep(2)
        let dashboard = try IdentityBenchmark.cpuPercent(of: pid, over: 32)
        print(
            String(
                format:
                    "the dashboard on --redis in tmux: first screen %.2f s; idle CPU over 32 s (a 30 s re-read included) %.2f%%; RSS %.1f MiB",
                firstScreen, dashboard, BenchSupport.residentMegabytes(process: String(pid))))
    }
}
