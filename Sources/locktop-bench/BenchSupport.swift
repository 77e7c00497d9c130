import Foundation
import RecordStore

/// Small helpers shared by the benchmarks.
enum BenchSupport {
    /// A fresh temporary directory.
    static func temporaryDirectory(_ label: String) -> String {
        let path = NSTemporaryDirectory() + "locktop-bench-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The value after `--name` in `arguments`, or `fallback`.
    /// The text after `--name`, nil when it is not given.
    static func text(_ name: String, in arguments: [String]) -> String? {
        arguments.firstIndex(of: "--\(name)").flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil }
    }

    static func option(_ name: String, in arguments: [String], default fallback: Int) -> Int {
        guard let index = arguments.firstIndex(of: "--\(name)"), index + 1 < arguments.count,
            let value = Int(arguments[index + 1])
        else { return fallback }
        return value
    }

    /// The Python of the venv that has `prefect==version`, when it exists.
    static func prefectPython(version: String) -> String? {
        let root =
            ProcessInfo.processInfo.environment["LOCKTOP_VENV_ROOT"]
            ?? NSHomeDirectory() + "/.cache/locktop/venvs"
        let python = "\(root)/prefect-\(version)/bin/python"
        return FileManager.default.isExecutableFile(atPath: python) ? python : nil
    }

    /// Runs `executable` and returns its standard output.
    static func output(of executable: String, _ arguments: [String], environment: [String: String] = [:]) throws
        -> String
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// The median of `values`.
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    /// Seconds taken by `body`.
    static func time(_ body: () throws -> Void) rethrows -> Double {
        let start = MonotonicClock.seconds()
        try body()
        return MonotonicClock.seconds() - start
    }

    /// The resident set size of a process (`self` by default), in MiB.
    static func residentMegabytes(process: String = "self") -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(process)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes / 1024
    }
}
