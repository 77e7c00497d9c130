import Foundation
import RecordStore
#if canImport(Glibc)
import Glibc
#endif

/// One name found in a directory, with its status.
public struct ListedFile: Sendable {
    /// The name as text; bytes that are not UTF-8, and control characters, are escaped as `\xNN`.
    public var name: String
    /// Whether `name` had to be escaped, so it cannot be used to reach the file.
    public var isEscaped: Bool
    /// The `lstat` status, nil when the file vanished while listing.
    public var status: FileSystem.Status?
}

/// Lists directories with `readdir` and `fstatat`, never following symbolic links.
public enum DirectoryListing {
    /// Lets the two listing threads share a closure that writes disjoint slots of one buffer.
    private struct UncheckedSendable<Value>: @unchecked Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }

    /// Every entry of `path` except `.` and `..`. Names are read with `readdir`, then statted on
    /// two threads, since a large directory's listing is mostly `fstatat` calls.
    public static func list(_ path: String) throws(RecordStoreError) -> [ListedFile] {
        let directory = try open(path)
        defer { closedir(directory) }
        let (names, offsets) = readNames(directory)
        let descriptor = dirfd(directory)
        let starts = offsets
        var files = [ListedFile?](repeating: nil, count: starts.count)
        names.withUnsafeBufferPointer { buffer in
            files.withUnsafeMutableBufferPointer { slots in
                let output = slots.baseAddress!
                let workers = starts.count > 2048 ? 2 : 1
                let describe = { (index: Int) in
                    let start = starts[index]
                    let end = (index + 1 < starts.count ? starts[index + 1] : buffer.count) - 1
                    let raw = UnsafeBufferPointer(rebasing: buffer[start..<end])
                    var info = stat()
                    let status = UnsafeRawPointer(raw.baseAddress!).withMemoryRebound(to: CChar.self, capacity: raw.count + 1) {
                        fstatat(descriptor, $0, &info, AT_SYMLINK_NOFOLLOW) == 0 ? FileSystem.Status(info) : nil
                    }
                    let (name, escaped) = displayName(raw)
                    output[index] = ListedFile(name: name, isEscaped: escaped, status: status)
                }
                let shared = UncheckedSendable(describe)
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    let chunk = (starts.count + workers - 1) / workers
                    for index in (worker * chunk)..<min(starts.count, (worker + 1) * chunk) { shared.value(index) }
                }
            }
        }
        return files.compactMap { $0 }
    }

    /// The names in `path` except `.` and `..`, as text (escaped when not UTF-8), without a `stat`
    /// each: what polling reads to find names that came or went.
    public static func names(_ path: String) throws(RecordStoreError) -> [(name: String, isEscaped: Bool)] {
        let directory = try open(path)
        defer { closedir(directory) }
        let (names, offsets) = readNames(directory)
        return offsets.indices.map { index in
            let end = (index + 1 < offsets.count ? offsets[index + 1] : names.count) - 1
            let (name, escaped) = displayName(names[offsets[index]..<end])
            return (name, escaped)
        }
    }

    private static func open(_ path: String) throws(RecordStoreError) -> OpaquePointer {
        guard let directory = opendir(path) else {
            let code = errno
            if code == ENOENT { throw .directoryMissing(path: path) }
            throw FileSystem.error("open directory", path, code)
        }
        return directory
    }

    /// Every name of an open directory but `.` and `..`, NUL-terminated in one buffer, with where each starts.
    private static func readNames(_ directory: OpaquePointer) -> (names: [UInt8], offsets: [Int]) {
        var names: [UInt8] = []
        var offsets: [Int] = []
        while let entry = readdir(directory) {
            withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: UInt8.self, capacity: 256) { name in
                    let length = strlen(UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self))
                    if length == 1 && name[0] == 0x2E { return }
                    if length == 2 && name[0] == 0x2E && name[1] == 0x2E { return }
                    offsets.append(names.count)
                    names.append(contentsOf: UnsafeBufferPointer(start: name, count: length + 1))
                }
            }
        }
        return (names, offsets)
    }

    /// The text form of a raw name: valid UTF-8 without control characters or `\` stays as it is;
    /// anything else is escaped by ``TerminalText``, and flagged, since it no longer reaches the file.
    public static func displayName<Raw: RandomAccessCollection<UInt8>>(_ raw: Raw) -> (String, Bool) where Raw.Index == Int {
        // Printable ASCII without `\`, as nearly every name is: no validation needed.
        if raw.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C }) { return (String(decoding: raw, as: UTF8.self), false) }
        if TerminalText.isPlain(bytes: raw, escapingBackslash: true), let text = String(validating: raw, as: UTF8.self) {
            return (text, false)
        }
        return (TerminalText.escaped(bytes: raw, escapingBackslash: true), true)
    }
}
