import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// `locktop serve` over a large directory: a scrape's latency against a rescan floor (`find` of
/// the lock files) in the same run, idle CPU and memory against an idle `locktop events`, and an
/// event's latency over SSE against the same event's `events --json` line.
enum ServeBenchmark {
    static func run(_ arguments: [String]) throws {
        let records = BenchSupport.option("records", in: arguments, default: 100_000)
        let locks = BenchSupport.option("locks", in: arguments, default: 10_000)
        let scrapes = BenchSupport.option("scrapes", in: arguments, default: 50)
        let directory = try MonitorBenchmark.makeDirectory(records: records, locks: locks)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = BenchSupport.temporaryDirectory("state")
        let port = UInt16.random(in: 20_000...40_000)
        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: MonitorBenchmark.locktopPath)
        serve.arguments = ["serve", "--dir", directory, "--listen", "127.0.0.1:\(port)", "--no-fanotify"]
        serve.environment = ProcessInfo.processInfo.environment.merging(["XDG_STATE_HOME": state]) { $1 }
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        defer {
            serve.terminate()
            serve.waitUntilExit()
        }
        var first: [UInt8] = []
        let started = MonotonicClock.seconds()
        while MonotonicClock.seconds() - started < 120 {
            first = get(port: port, path: "/metrics")
            if String(decoding: first, as: UTF8.self).contains("locktop_locks{") { break }
            usleep(50_000)
        }
        var times: [Double] = []
        for _ in 0..<scrapes { times.append(BenchSupport.time { _ = get(port: port, path: "/metrics") }) }
        var floor: [Double] = []
        for _ in 0..<5 {
            floor.append(
                try BenchSupport.time {
                    _ = try BenchSupport.output(of: "/usr/bin/find", [directory, "-maxdepth", "1", "-name", "*.lock"])
                })
        }
        let scrape = BenchSupport.median(times) * 1000
        let rescan = BenchSupport.median(floor) * 1000
        print("serve: \(locks) locks, \(records) records, \(first.count) bytes per scrape")
        print(String(format: "  scrape p50 %.2f ms, max %.2f ms", scrape, (times.max() ?? 0) * 1000))
        print(
            String(
                format: "  find -name '*.lock' (a rescan floor) p50 %.2f ms: scrape/rescan %.4f×", rescan,
                scrape / rescan))
        let events = Process()
        events.executableURL = URL(fileURLWithPath: MonitorBenchmark.locktopPath)
        events.arguments = ["events", "--dir", directory, "--json", "--no-fanotify"]
        events.environment = serve.environment
        let eventsPipe = Pipe()
        events.standardOutput = eventsPipe
        events.standardError = FileHandle.nullDevice
        try events.run()
        defer {
            events.terminate()
            events.waitUntilExit()
        }
        // Both read the records' table a part per tick after start: idle is once that is done.
        sleep(20)
        // A lock file appearing → its `acquired` line, over SSE and from `events --json` in the same run.
        let stream = connect(port: port)
        defer { close(stream) }
        let request = Array("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { write(stream, $0.baseAddress, $0.count) }
        _ = try readUntil(stream, contains: ": locktop events")
        let reader = eventsPipe.fileHandleForReading.fileDescriptor
        var sse: [Double] = []
        var piped: [Double] = []
        for index in 0..<100 {
            let key = "latency-\(index)"
            let start = MonotonicClock.seconds()
            _ = try LockFiles.create(
                path: "\(directory)/\(key).lock", bytes: LockFileContent(holder: "bench", expiration: nil).encoded())
            _ = try readUntil(stream, contains: "\"key\": \"\(key)\"")
            sse.append((MonotonicClock.seconds() - start) * 1000)
            _ = try readUntil(reader, contains: "\"key\": \"\(key)\"")
            piped.append((MonotonicClock.seconds() - start) * 1000)
            try FileSystem.removeName("\(directory)/\(key).lock")
            _ = try readUntil(stream, contains: "\"key\": \"\(key)\"")
            usleep(5_000)
        }
        func percentile(_ values: [Double], _ p: Double) -> Double {
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        print(
            String(
                format:
                    "  lock file → SSE `acquired` p50 %.2f ms p99 %.2f ms; → events --json line p50 %.2f ms p99 %.2f ms",
                percentile(sse, 0.5), percentile(sse, 0.99), percentile(piped, 0.5), percentile(piped, 0.99)))
        let seconds: Double = 10
        let serveBefore = DashboardLiveBenchmark.cpuSeconds(serve.processIdentifier)
        let eventsBefore = DashboardLiveBenchmark.cpuSeconds(events.processIdentifier)
        usleep(useconds_t(seconds * 1_000_000))
        let serveCPU = (DashboardLiveBenchmark.cpuSeconds(serve.processIdentifier) - serveBefore) / seconds * 100
        let eventsCPU = (DashboardLiveBenchmark.cpuSeconds(events.processIdentifier) - eventsBefore) / seconds * 100
        print(
            String(
                format: "  idle CPU: serve %.2f%%, events %.2f%% (+%.2f points); RSS serve %.0f MiB, events %.0f MiB",
                serveCPU, eventsCPU, serveCPU - eventsCPU,
                BenchSupport.residentMegabytes(process: String(serve.processIdentifier)),
                BenchSupport.residentMegabytes(process: String(events.processIdentifier))))
    }

    /// A socket connected to 127.0.0.1:`port`, -1 when it cannot connect.
    static func connect(port: UInt16) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if connected != 0 {
            close(fd)
            return -1
        }
        return fd
    }

    /// Reads `fd` until what it read (since this call) contains `marker`.
    static func readUntil(_ fd: Int32, contains marker: String) throws -> String {
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !text.contains(marker) {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { throw RecordStoreError.system(operation: "read", path: marker, errno: EIO) }
            text += String(decoding: buffer[..<count], as: UTF8.self)
        }
        return text
    }

    /// The body and headers of `GET path` on 127.0.0.1:`port`, over a plain socket.
    static func get(port: UInt16, path: String) -> [UInt8] {
        let fd = connect(port: port)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            response += buffer[..<count]
        }
        return response
    }
}
