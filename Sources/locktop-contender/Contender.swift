import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// A test helper: takes one key many times through `RecordStore` and checks mutual exclusion.
///
/// Inside each critical section it creates `<work>/inside` exclusively (an existing one means another
/// holder is inside too: an overlap) and increments the counter in `<work>/counter` by read, pause, write,
/// so any overlap also loses an update. It prints one JSON line: iterations, overlaps, errors.
@main
struct Contender {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 5, let iterations = Int(arguments[4]) else {
            FileHandle.standardError.write(
                Data("usage: locktop-contender RECORDS_DIR KEY WORK_DIR ITERATIONS [HOLD_TIMEOUT]\n".utf8))
            exit(2)
        }
        let store = FileSystemRecordStore(recordsDirectory: URL(fileURLWithPath: arguments[1]))
        let key = arguments[2]
        let work = arguments[3]
        let holdTimeout = arguments.count > 5 ? Double(arguments[5]) : nil
        var overlaps = 0
        var errors: [String] = []
        for _ in 0..<iterations {
            do {
                guard try store.acquireLock(key: key, holdTimeout: holdTimeout) else {
                    errors.append("acquire timed out")
                    continue
                }
                if !criticalSection(work: work) { overlaps += 1 }
                try store.releaseLock(key: key)
            } catch {
                errors.append("\(error)")
            }
        }
        let summary: [String: Any] = ["iterations": iterations, "overlaps": overlaps, "errors": errors]
        let data = (try? JSONSerialization.data(withJSONObject: summary)) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    }

    /// Returns false when another process was inside at the same time.
    static func criticalSection(work: String) -> Bool {
        let marker = "\(work)/inside"
        let fd = open(marker, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        let alone = fd >= 0
        if alone { close(fd) }
        let counterPath = "\(work)/counter"
        let current = (try? String(contentsOfFile: counterPath, encoding: .utf8)).flatMap { Int($0) } ?? 0
        usleep(200)
        try? String(current + 1).write(toFile: counterPath, atomically: false, encoding: .utf8)
        if alone { unlink(marker) }
        return alone
    }
}
