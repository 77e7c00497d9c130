import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// `locktop demo --hosts N`: workers that play Prefect helpers on other hosts. Their lock files
/// name their host (`demo-host-1`…) and a heartbeat, as `LocktopFileSystemLockManager` writes
/// them; each process touches its heartbeat file while it holds a lock. One of them, the seeded
/// orphan, takes a lock and dies at once, leaving its heartbeat to expire: the dashboard judges
/// it `stale` from the heartbeat alone, as it would a crashed pod's.
struct DemoOtherHost {
    let directory: String
    let host: String
    let index: Int
    /// The demo's pid, whose end ends the worker; nil when it cannot be seen (in a pid namespace).
    let parent: Int32?
    /// A pipe's read end that hangs up when the demo ends, for a worker that cannot see its pid.
    let lifeline: Int32?
    /// Whether this worker is the seeded orphan.
    let isOrphan: Bool

    /// The heartbeat interval the demo's helpers use, in seconds.
    static let heartbeatInterval = 1.0
    /// The keys the other hosts' workers take.
    static let keys = ["ingest.raw", "ingest.clean", "geo-tiles", "embeddings", "fx-rates"]

    /// The other hosts' names.
    static func hostName(_ number: Int) -> String { "demo-host-\(number)" }

    var store: FileSystemRecordStore { FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory)) }

    /// This process's heartbeat file name, as the helper forms it. The nonce tells apart this
    /// host's workers: each is pid 1 of a pid namespace of its own, and two started within one
    /// clock tick have the same start too.
    var heartbeatName: String {
        "\(LockFiles.heartbeatPrefix)\(host)-\(getpid())-\(ProcessIdentity.startTicks(of: getpid()) ?? 0)-\(Self.processNonce)"
    }

    /// 64 random bits, drawn once per process.
    private static let processNonce = String(UInt64.random(in: .min ... .max), radix: 16)

    /// Whether the demo still runs, as far as this worker can see.
    private var demoRuns: Bool {
        if let parent { return kill(parent, 0) == 0 }
        guard let lifeline else { return true }
        var watched = pollfd(fd: lifeline, events: Int16(POLLIN), revents: 0)
        return poll(&watched, 1, 0) == 0
    }

    func run() {
        if isOrphan { return dieHoldingLock() }
        var generator = SystemRandomNumberGenerator()
        while demoRuns {
            let key = Self.keys.randomElement(using: &generator)!
            let holder = UUID().uuidString.lowercased()
            if (try? take(key: key, holder: holder)) == true {
                let until = Date().addingTimeInterval(Double.random(in: 2...9, using: &generator))
                while Date() < until, demoRuns {
                    touchHeartbeat()
                    usleep(UInt32(Self.heartbeatInterval * 500_000))
                }
                try? store.releaseLock(key: key, holder: holder)
            }
            unlink("\(directory)/\(heartbeatName)")
            usleep(UInt32.random(in: 300_000...1_500_000, using: &generator))
        }
        unlink("\(directory)/\(heartbeatName)")
    }

    /// Takes `key`'s lock for `holder`, naming this host, this process and its heartbeat.
    private func take(key: String, holder: String) throws -> Bool {
        touchHeartbeat()
        var content = LockFileContent(
            holder: holder, expiration: nil, hostName: host, processID: getpid(),
            processStartTicks: ProcessIdentity.startTicks(of: getpid()), acquiredAt: Date())
        content.heartbeat = heartbeatName
        content.heartbeatInterval = Self.heartbeatInterval
        return try LockFiles.create(path: try store.lockPath(forKey: key), bytes: content.encoded()) != nil
    }

    private func touchHeartbeat() {
        let path = "\(directory)/\(heartbeatName)"
        if utimensat(AT_FDCWD, path, nil, 0) != 0 { _ = try? FileSystem.createExclusive(path, bytes: []) }
    }

    /// The seeded orphan: a lock whose holder crashed, its heartbeat left behind untouched.
    private func dieHoldingLock() {
        _ = try? take(key: "orphan-\(host)", holder: UUID().uuidString.lowercased())
        _exit(0)
    }
}
