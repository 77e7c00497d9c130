import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// Hand-off: a holder releases, and a waiter blocked in another process returns from its acquire.
/// locktop's waiter against Prefect 3.9.1's waiter on the same holder.
enum HandoffBenchmark {
    static let key = "handoff"

    static func run(_ arguments: [String]) throws {
        let rounds = BenchSupport.option("rounds", in: arguments, default: 40)
        let directory = BenchSupport.temporaryDirectory("handoff")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var waiters: [(String, String, [String])] = [
            ("RecordStore acquireLock", CommandLine.arguments[0], ["handoff-waiter", directory, String(rounds)])
        ]
        if let python = BenchSupport.prefectPython(version: "3.9.1") {
            waiters.append(
                ("Prefect 3.9.1 acquire_lock (baseline)", python, ["-c", prefectWaiter, directory, String(rounds)]))
        }
        print("holder releases → waiter in another process returns from acquire, \(rounds) hand-offs (ms)")
        var medians: [String: Double] = [:]
        for (name, executable, arguments) in waiters {
            let latencies = try measure(executable, arguments, directory: directory, rounds: rounds)
            let sorted = latencies.sorted()
            medians[name] = BenchSupport.median(latencies)
            print(
                String(
                    format: "  %-38@ p50 %7.2f   p90 %7.2f   max %7.2f", name as NSString,
                    BenchSupport.median(latencies),
                    sorted[Int(Double(sorted.count) * 0.9)], sorted.last ?? 0))
        }
        if let ours = medians["RecordStore acquireLock"], let prefect = medians["Prefect 3.9.1 acquire_lock (baseline)"]
        {
            print(String(format: "  RecordStore's p50 is %.3fx Prefect's", ours / prefect))
        }
    }

    /// Runs one waiter process through `rounds` hand-offs and returns each latency in milliseconds.
    static func measure(_ executable: String, _ arguments: [String], directory: String, rounds: Int) throws -> [Double]
    {
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["DO_NOT_TRACK": "1"]) { $1 }
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        var lines = LineReader(fileDescriptor: output.fileHandleForReading.fileDescriptor)
        guard lines.next()?.hasPrefix("ready") == true else {
            throw RecordStoreError.system(operation: "start the hand-off waiter", path: executable, errno: EIO)
        }
        var latencies: [Double] = []
        for _ in 0..<rounds {
            guard try store.acquireLock(key: key, holder: "holder", acquireTimeout: 10) else {
                throw RecordStoreError.lockedByAnotherHolder(key: key, holder: "the waiter")
            }
            input.fileHandleForWriting.write(Data("go\n".utf8))
            usleep(60_000)
            let released = MonotonicClock.seconds()
            try store.releaseLock(key: key, holder: "holder")
            guard let line = lines.next(), let returned = Double(line) else {
                throw RecordStoreError.system(operation: "read the hand-off waiter", path: executable, errno: EIO)
            }
            latencies.append((returned - released) * 1000)
        }
        // The waiter releases its last lock and exits once its input ends.
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        return latencies
    }

    /// The waiter side, run as `locktop-bench handoff-waiter DIR ROUNDS`: per "go", block in
    /// `acquireLock`, print the monotonic time it returned, release.
    static func waiter(_ arguments: [String]) throws {
        guard arguments.count == 2, let rounds = Int(arguments[1]) else { return }
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: arguments[0]))
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        for _ in 0..<rounds {
            guard readLine() != nil else { return }
            guard try store.acquireLock(key: key, holder: "waiter", acquireTimeout: 10) else { return }
            FileHandle.standardOutput.write(Data("\(MonotonicClock.seconds())\n".utf8))
            try store.releaseLock(key: key, holder: "waiter")
        }
    }

    static let prefectWaiter = """
        import sys, time
        from pathlib import Path
        from prefect.locking.filesystem import FileSystemLockManager
        manager = FileSystemLockManager(Path(sys.argv[1]))
        print("ready", flush=True)
        for _ in range(int(sys.argv[2])):
            if not sys.stdin.readline():
                break
            manager.acquire_lock("\(key)", holder="waiter", acquire_timeout=10)
            print(time.monotonic(), flush=True)
            manager.release_lock("\(key)", holder="waiter")
        """
}

/// Reads lines from a pipe as they come.
struct LineReader {
    let fileDescriptor: Int32
    private var pending: [UInt8] = []

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    /// The next line without its newline, nil at the end.
    mutating func next() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            let count = buffer.withUnsafeMutableBytes { read(fileDescriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { return nil }
            pending += buffer[..<count]
        }
    }
}
