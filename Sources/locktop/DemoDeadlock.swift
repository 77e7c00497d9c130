import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// The two workers of `locktop demo` that deadlock: each takes one of `accounts` and `transfers`,
/// then waits for the other's, reading it ten times a second as Prefect's waiters do. After
/// ``waitLimit`` seconds each gives up and lets go, so the demo goes on, and they meet again
/// ``pause`` seconds later. As root, fanotify sees both sides and the dashboard shows the cycle.
struct DemoDeadlock {
    let directory: String
    /// 0 takes `accounts` first, 1 `transfers`.
    let side: Int
    let parent: Int32

    static let keys = ["accounts", "transfers"]
    /// When the first deadlock comes, after the demo starts.
    static let firstAfter: UInt32 = 8
    static let waitLimit = 25.0
    static let pause: UInt32 = 20

    /// Spawns both sides in process group `group`.
    static func start(directory: String, group: pid_t) {
        for side in 0..<2 {
            DemoWorkload.spawn(
                [
                    "demo-worker", "deadlock-\(keys[side])", "--dir", directory, "--index", String(side), "--parent",
                    String(getpid()), "--deadlock",
                ], group: group)
        }
    }

    func run() {
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        sleep(Self.firstAfter)
        while kill(parent, 0) == 0 {
            let holder = UUID().uuidString.lowercased()
            let first = Self.keys[side]
            let second = Self.keys[1 - side]
            // Written straight into the lock file, as Prefect does, so fanotify names its creator.
            if let path = try? store.lockPath(forKey: first),
                (try? FileSystem.createExclusive(
                    path, bytes: LockFileContent(holder: holder, expiration: nil).encoded()))
                    != nil
            {
                sleep(1)
                var waited = 0.0
                while waited < Self.waitLimit, store.isLocked(key: second), kill(parent, 0) == 0 {
                    usleep(100_000)
                    waited += 0.1
                }
                try? store.releaseLock(key: first, holder: holder)
            }
            sleep(Self.pause)
        }
    }
}
