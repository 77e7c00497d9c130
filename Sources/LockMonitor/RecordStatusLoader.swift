import Foundation
import RecordStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Stats a large directory's records on a thread of its own, so that the first screen shows the
/// locks at once and the records' sizes and times arrive behind it. The monitor takes the result
/// on a later tick (``take()``) and settles each record that is still pending.
public final class RecordStatusLoader: Sendable {
    /// Record names to stat: byte ranges of one buffer, a copy the loader owns.
    public struct Names: Sendable {
        var bytes: [UInt8]
        var starts: [UInt32] = []
        var lengths: [UInt16] = []

        /// How many names.
        public var count: Int { starts.count }

        func withName<Result>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
            bytes.withUnsafeBufferPointer { buffer in
                let start = Int(starts[index])
                return body(UnsafeBufferPointer(rebasing: buffer[start..<start + Int(lengths[index])]))
            }
        }
    }

    /// What the loader found: each name with its status, nil when it was gone.
    public struct Result: Sendable {
        public var names: Names
        public var statuses: [FileSystem.Status?]
    }

    private let result = Mutex<Result?>(nil)

    /// Starts statting `names` in `directory`.
    public init(directory: String, names: Names) {
        Thread.detachNewThread { [self] in
            let statuses = Self.stat(names, in: directory)
            result.withLock { $0 = Result(names: names, statuses: statuses) }
        }
    }

    /// The result once the loader is done, else nil; it is handed out once.
    public func take() -> Result? {
        result.withLock { found in
            defer { found = nil }
            return found
        }
    }

    /// Stats each name on this one thread (the main thread keeps the other core for the first screen
    /// and the keys), relative to the open directory, or by full path when it cannot be opened: a
    /// failed open must not make every record look gone.
    private static func stat(_ names: Names, in directory: String) -> [FileSystem.Status?] {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if descriptor >= 0 { close(descriptor) } }
        let prefix: [UInt8] = descriptor >= 0 ? [] : Array(directory.utf8) + [UInt8(ascii: "/")]
        var path: [UInt8] = []
        return (0..<names.count).map { index in
            path.removeAll(keepingCapacity: true)
            path += prefix
            names.withName(index) { path.append(contentsOf: $0) }
            path.append(0)
            var info = Glibc.stat()
            let found = path.withUnsafeBufferPointer { raw in
                raw.withMemoryRebound(to: CChar.self) { fstatat(descriptor >= 0 ? descriptor : AT_FDCWD, $0.baseAddress!, &info, AT_SYMLINK_NOFOLLOW) == 0 }
            }
            return found ? FileSystem.Status(info) : nil
        }
    }
}
