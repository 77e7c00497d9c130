import Foundation
import RecordStore
import RedisStore

#if canImport(Glibc)
    import Glibc
#endif

/// The workload of `locktop demo --redis`: a private redis-server in the demo directory, and
/// workers that take prefect-redis locks the way Prefect tasks do, crashes included.
struct RedisDemoWorkload {
    let url: String
    let index: Int
    let parent: Int32

    /// Starts `redis-server` on a local port, with keyspace notifications and no persistence,
    /// and returns it and its URL once it answers. It gets SIGTERM when the demo dies, even by kill -9.
    static func startServer(in directory: String) throws -> (server: ChildProcess, url: String) {
        guard ChildProcess.executablePath("redis-server") != nil else {
            throw RedisError.unsupported("demo --redis needs redis-server (apt-get install redis-server)")
        }
        let port = 30_000 + Int(getpid() % 20_000)
        let server: ChildProcess
        do {
            server = try ChildProcess.start(
                [
                    "redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", directory, "--logfile", "\(directory)/redis.log", "--notify-keyspace-events", "K$gx",
                ],
                adding: [:], watchdog: Watchdog.start())
        } catch {
            throw RedisError.unsupported("cannot start redis-server: \(error)")
        }
        let url = "redis://127.0.0.1:\(port)/0"
        for _ in 0..<50 {
            if let connection = try? RedisConnection(url: RedisURL(url), timeout: 1),
                (try? connection.command(["PING"])) == .simple("PONG")
            {
                return (server, url)
            }
            usleep(100_000)
        }
        server.endGroup(killAfter: 0)
        throw RedisError.connectionFailed(server: url, reason: "the demo's redis-server did not start")
    }

    /// Locks already in trouble when the demo opens: a host:pid holder whose process is gone, a
    /// wait_for_lock probe left behind, a crashed transaction's uuid4, and a lease with a TTL.
    static func seed(_ url: String) throws {
        let store = RedisLockStore(connection: try RedisConnection(url: RedisURL(url)))
        let host = ProcessIdentity.current.hostName
        _ = try store.acquire(key: "nightly-backup", holder: "\(host):4242:140001:MainThread")
        _ = try store.acquire(key: "report-daily", holder: "0e4f5d404a4b11ea80000242ac120002")
        _ = try store.acquire(key: "archive-2026-10", holder: UUID().uuidString.lowercased())
        _ = try store.acquire(key: "billing-3f9a", holder: "\(host):\(getpid()):1:MainThread", timeToLive: 600_000)
    }

    /// Starts `count` workers in a new process group and returns the group id.
    static func startWorkers(count: Int, url: String) -> pid_t {
        var group: pid_t = 0
        for index in 0..<count {
            let pid = DemoWorkload.spawn(
                [
                    "demo-worker", DemoWorkload.names[index % DemoWorkload.names.count], "--redis", url,
                    "--index", String(index), "--parent", String(getpid()),
                ], group: group)
            if group == 0 { group = pid }
        }
        return group
    }

    /// One worker: takes locks with uuid4 holders (and TTLs now and then), holds them a while,
    /// releases them by compare-and-delete; now and then dies holding one, as a crashed transaction.
    func run() {
        guard let store = try? RedisLockStore(connection: RedisConnection(url: RedisURL(url))) else { return }
        var generator = SystemRandomNumberGenerator()
        while kill(parent, 0) == 0 {
            let key = DemoWorkload.keys.randomElement(using: &generator)!
            let holder = UUID().uuidString.lowercased()
            let roll = Double.random(in: 0..<1, using: &generator)
            let timeToLive = roll < 0.4 ? Int.random(in: 5_000...20_000, using: &generator) : nil
            var acquired = false
            for _ in 0..<40 where kill(parent, 0) == 0 {
                acquired = (try? store.acquire(key: key, holder: holder, timeToLive: timeToLive)) ?? false
                if acquired { break }
                usleep(100_000)
            }
            if acquired {
                if roll > 0.97 {
                    DemoWorkload.spawn(
                        [
                            "demo-worker", DemoWorkload.names[index % DemoWorkload.names.count], "--redis", url,
                            "--index", String(index), "--parent", String(parent),
                        ], group: getpgrp())
                    _exit(0)
                }
                usleep(UInt32.random(in: 300_000...3_000_000, using: &generator))
                _ = try? store.remove(name: store.name(forKey: key), holder: Array(holder.utf8))
            }
            usleep(UInt32.random(in: 100_000...600_000, using: &generator))
        }
    }
}
