import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// Acquire+release cycles with a hold timeout over many keys: RecordStore against the raw-syscall
/// floor (tmp + link + read + unlink) and, when its venv exists, Prefect 3.9.1's FileSystemLockManager.
enum StoreBenchmark {
    static func run(_ arguments: [String]) throws {
        let keys = BenchSupport.option("keys", in: arguments, default: 100)
        let cycles = BenchSupport.option("cycles", in: arguments, default: 20_000)
        let rounds = BenchSupport.option("rounds", in: arguments, default: 3)
        // Floor and store alternate in slices of 1000 cycles, so drift in the machine's speed
        // falls on both alike; each round's figure is the mean over its slices.
        let slices = max(1, cycles / 1000)
        var floor: [Double] = []
        var store: [Double] = []
        for _ in 0..<rounds {
            var floorTotal = 0.0
            var storeTotal = 0.0
            for _ in 0..<slices {
                floorTotal += try floorMicroseconds(keys: keys, cycles: cycles / slices)
                storeTotal += try storeMicroseconds(keys: keys, cycles: cycles / slices)
            }
            floor.append(floorTotal / Double(slices))
            store.append(storeTotal / Double(slices))
        }
        let floorMedian = BenchSupport.median(floor)
        let storeMedian = BenchSupport.median(store)
        print(
            "acquire+release, \(keys) keys, \(cycles) cycles, alternating slices, median of \(rounds) rounds (µs per cycle)"
        )
        print(String(format: "  raw syscalls (floor)      %8.2f", floorMedian))
        print(
            String(
                format: "  RecordStore               %8.2f   %.2fx the floor", storeMedian, storeMedian / floorMedian))
        if let python = BenchSupport.prefectPython(version: "3.9.1") {
            let prefect = try prefectMicroseconds(python: python, keys: keys, cycles: cycles)
            print(
                String(
                    format: "  Prefect 3.9.1             %8.2f   RecordStore is %.1fx faster", prefect,
                    prefect / storeMedian))
        } else {
            print("  Prefect 3.9.1             skipped: no venv (run scripts/setup.sh)")
        }
    }

    static func keyNames(_ count: Int) -> [String] {
        (0..<count).map { "bench-key-\($0)" }
    }

    /// The floor: what any atomic create-with-content lock must do, with no checks at all.
    static func floorMicroseconds(keys: Int, cycles: Int) throws -> Double {
        let directory = BenchSupport.temporaryDirectory("floor")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lockPaths = keyNames(keys).map { "\(directory)/\($0).lock" }
        let temporary = "\(directory)/.tmp"
        let content = Array(
            #"{"holder": "host:1:2:MainThread", "expiration": "2026-11-25 19:48:46.512569+00:00"}"#.utf8)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let seconds = BenchSupport.time {
            for cycle in 0..<cycles {
                let path = lockPaths[cycle % keys]
                let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                _ = content.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                link(temporary, path)
                unlink(temporary)
                let reader = open(path, O_RDONLY | O_CLOEXEC)
                _ = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
                close(reader)
                unlink(path)
            }
        }
        return seconds / Double(cycles) * 1e6
    }

    static func storeMicroseconds(keys: Int, cycles: Int) throws -> Double {
        let directory = BenchSupport.temporaryDirectory("store")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: directory))
        let names = keyNames(keys)
        let holder = FileSystemRecordStore.defaultHolder()
        let seconds = try BenchSupport.time {
            for cycle in 0..<cycles {
                let key = names[cycle % keys]
                guard try store.acquireLock(key: key, holder: holder, holdTimeout: 60) else {
                    throw RecordStoreError.noLock(key: key)
                }
                try store.releaseLock(key: key, holder: holder)
            }
        }
        return seconds / Double(cycles) * 1e6
    }

    static let prefectScript = """
        import sys, time, tempfile, pathlib
        from prefect.locking.filesystem import FileSystemLockManager
        keys, cycles = int(sys.argv[1]), int(sys.argv[2])
        manager = FileSystemLockManager(pathlib.Path(tempfile.mkdtemp(prefix="locktop-bench-prefect-")))
        names = [f"bench-key-{i}" for i in range(keys)]
        start = time.perf_counter()
        for cycle in range(cycles):
            key = names[cycle % keys]
            assert manager.acquire_lock(key, holder="bench", hold_timeout=60)
            manager.release_lock(key, holder="bench")
        print((time.perf_counter() - start) / cycles * 1e6)
        """

    static func prefectMicroseconds(python: String, keys: Int, cycles: Int) throws -> Double {
        let home = BenchSupport.temporaryDirectory("prefect-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let output = try BenchSupport.output(
            of: python, ["-c", prefectScript, String(keys), String(cycles)],
            environment: ["PREFECT_HOME": home])
        guard
            let value = Double(output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last ?? "")
        else {
            throw RecordStoreError.system(operation: "run Prefect benchmark", path: python, errno: EIO)
        }
        return value
    }
}
