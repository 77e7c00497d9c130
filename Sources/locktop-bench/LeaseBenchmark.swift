import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// What a `locktop lock` lease costs and how fast it notices a break.
enum LeaseBenchmark {
    /// Renewal by atomic exchange vs the baseline, a plain rename-over of the same bytes (which
    /// checks nothing, and which ext4 follows with a data flush when it replaces a file).
    static func renew(_ arguments: [String]) throws {
        let cycles = BenchSupport.option("cycles", in: arguments, default: 4000)
        let directory = BenchSupport.temporaryDirectory("renew")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        guard try store.acquireLock(key: "k", holder: "bench", acquireTimeout: 0, holdTimeout: 60) else { return }
        let floorPath = "\(directory)/floor.lock"
        let bytes = LockFileContent(holder: "bench", expiration: Date().addingTimeInterval(60)).encoded()
        try LockFiles.replace(path: floorPath, bytes: bytes)
        var renewals = 0.0
        var floors = 0.0
        let slice = 200
        for _ in 0..<(cycles / slice) {
            floors += try BenchSupport.time {
                for _ in 0..<slice { try LockFiles.replace(path: floorPath, bytes: bytes) }
            }
            renewals += try BenchSupport.time {
                for _ in 0..<slice where try !store.renewLock(key: "k", holder: "bench", holdTimeout: 60) {
                    throw RecordStoreError.lockChanged(key: "k")
                }
            }
        }
        let count = Double(cycles / slice * slice)
        print("renewing a held lock, \(Int(count)) times each, alternating slices of \(slice) (µs per renewal)")
        print(String(format: "  rename-over (baseline, checks nothing)      %7.1f", floors / count * 1e6))
        print(
            String(
                format: "  renewLock (exchange, verify, never absent)  %7.1f   %.2fx the baseline",
                renewals / count * 1e6, renewals / floors))
    }

    /// From an operator's break to the lease's `was lost` line, next to `locktop events --json`'s `broken` line.
    static func lost(_ arguments: [String]) throws {
        let rounds = BenchSupport.option("rounds", in: arguments, default: 20)
        let directory = BenchSupport.temporaryDirectory("lost")
        let state = BenchSupport.temporaryDirectory("lost-state")
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: state)
        }
        let environment = ProcessInfo.processInfo.environment.merging(["XDG_STATE_HOME": state]) { $1 }
        let events = try PipedProcess(
            MonitorBenchmark.locktopPath, ["events", "--dir", directory, "--json"], environment: environment)
        defer { events.stop() }
        usleep(500_000)
        let breaker = LockBreaker(auditLog: AuditLog(path: "\(state)/locktop/audit.log"), operatorName: "bench")
        let locks = try DirectoryHandle.open(directory)
        var leaseDelays: [Double] = []
        var eventDelays: [Double] = []
        for _ in 0..<rounds {
            let holder = try PipedProcess(
                MonitorBenchmark.locktopPath, ["lock", "--dir", directory, "k", "--", "/bin/sleep", "600"],
                environment: environment, readingStandardError: true)
            defer { holder.stop() }
            _ = try events.waitFor(#""type": "acquired""#)
            usleep(50_000)
            let observation = try LockFiles.observe("k.lock", in: locks, now: Date(), gracePeriod: 2)
            let start = MonotonicClock.seconds()
            _ = try breaker.breakLock("k.lock", in: locks, judged: observation, key: "k", reason: "bench")
            leaseDelays.append((try holder.waitFor("was lost") - start) * 1000)
            eventDelays.append((try events.waitFor(#""type": "broken""#) - start) * 1000)
        }
        print("operator break → report, \(rounds) rounds (ms, from the break's return)")
        print(
            String(
                format: "  locktop events --json `broken` (baseline)  p50 %.2f  max %.2f",
                BenchSupport.median(eventDelays), eventDelays.max() ?? 0))
        print(
            String(
                format: "  locktop lock `was lost`                    p50 %.2f  max %.2f   %.2fx the baseline (p50)",
                BenchSupport.median(leaseDelays), leaseDelays.max() ?? 0,
                BenchSupport.median(leaseDelays) / BenchSupport.median(eventDelays)))
    }
}

/// A child process whose output is read as it comes, for latency measurements.
final class PipedProcess {
    private let process = Process()
    private var lines: LineReader

    init(_ executable: String, _ arguments: [String], environment: [String: String], readingStandardError: Bool = false)
        throws
    {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let pipe = Pipe()
        if readingStandardError { process.standardError = pipe } else { process.standardOutput = pipe }
        lines = LineReader(fileDescriptor: pipe.fileHandleForReading.fileDescriptor)
        try process.run()
    }

    /// Reads lines until one holds `text`; returns the monotonic time it arrived.
    func waitFor(_ text: String) throws -> Double {
        while let line = lines.next() {
            if line.contains(text) { return MonotonicClock.seconds() }
        }
        throw RecordStoreError.system(operation: "read output of", path: process.executableURL?.path ?? "", errno: EIO)
    }

    /// The process id.
    var processID: Int32 { process.processIdentifier }

    /// Ends the process and waits for it.
    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}
