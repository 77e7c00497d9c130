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
    /// A directory's names back to back (each NUL-terminated), with each one's `lstat` status when
    /// it was statted: a listing of a million names without a string each.
    public struct Raw: Sendable {
        fileprivate var bytes: [UInt8]
        fileprivate var offsets: [UInt32]
        /// Each name's status (nil when it vanished while listing); empty when the listing was not statted.
        public var statuses: [FileSystem.Status?]

        /// How many names.
        public var count: Int { offsets.count }

        /// Calls `body` with the raw bytes of name `index`, which a NUL byte follows in memory.
        public func withName<Result>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
            bytes.withUnsafeBufferPointer { buffer in
                let end = (index + 1 < offsets.count ? Int(offsets[index + 1]) : buffer.count) - 1
                return body(UnsafeBufferPointer(rebasing: buffer[Int(offsets[index])..<end]))
            }
        }
    }

    /// Every name of `directory` except `.` and `..`, raw; with `statting`, each one statted too (on
    /// two threads, since a large directory's listing is then mostly `fstatat` calls).
    public static func raw(_ directory: DirectoryHandle, statting: Bool = true) throws(RecordStoreError) -> Raw {
        let stream = try open(directory)
        defer { closedir(stream) }
        var listing = readNames(stream)
        guard statting else { return listing }
        let descriptor = directory.descriptor.rawValue
        let named = listing
        listing.statuses = ParallelMap.map(named.count) { index in
            named.withName(index) { name in status(of: name, in: descriptor) }
        }
        return listing
    }

    /// The `lstat` status of the raw, NUL-terminated `name` relative to the open directory
    /// `descriptor` (or `AT_FDCWD` for a path), nil when it is gone.
    public static func status(of name: UnsafeBufferPointer<UInt8>, in descriptor: Int32) -> FileSystem.Status? {
        var info = stat()
        let found = UnsafeRawPointer(name.baseAddress!).withMemoryRebound(to: CChar.self, capacity: name.count + 1) {
            fstatat(descriptor, $0, &info, AT_SYMLINK_NOFOLLOW) == 0
        }
        return found ? FileSystem.Status(info) : nil
    }

    /// Every entry of `directory` except `.` and `..`, with its name as text and its status.
    public static func list(_ directory: DirectoryHandle) throws(RecordStoreError) -> [ListedFile] {
        let listing = try raw(directory)
        return (0..<listing.count).map { index in
            let (name, escaped) = listing.withName(index) { displayName($0) }
            return ListedFile(name: name, isEscaped: escaped, status: listing.statuses[index])
        }
    }

    /// The names in `directory` except `.` and `..`, as text (escaped when not UTF-8), without a
    /// `stat` each: what polling reads to find names that came or went.
    public static func names(_ directory: DirectoryHandle) throws(RecordStoreError) -> [(name: String, isEscaped: Bool)]
    {
        let stream = try open(directory)
        defer { closedir(stream) }
        let listing = readNames(stream)
        return (0..<listing.count).map { index in listing.withName(index) { displayName($0) } }
    }

    /// A `readdir` stream over the directory of `directory`'s handle: `openat(".")`, then `fdopendir`.
    private static func open(_ directory: DirectoryHandle) throws(RecordStoreError) -> OpaquePointer {
        let descriptor = try directory.openForListing()
        guard let stream = fdopendir(descriptor.rawValue) else {
            let code = errno
            try? descriptor.close()
            throw FileSystem.error("open directory", directory.path, code)
        }
        return stream
    }

    /// Every name of an open directory but `.` and `..`, NUL-terminated in one buffer, not yet statted.
    private static func readNames(_ directory: OpaquePointer) -> Raw {
        var names: [UInt8] = []
        var offsets: [UInt32] = []
        while let entry = readdir(directory) {
            withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: UInt8.self, capacity: 256) { name in
                    let length = strlen(UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self))
                    if length == 1 && name[0] == 0x2E { return }
                    if length == 2 && name[0] == 0x2E && name[1] == 0x2E { return }
                    offsets.append(UInt32(names.count))
                    names.append(contentsOf: UnsafeBufferPointer(start: name, count: length + 1))
                }
            }
        }
        return Raw(bytes: names, offsets: offsets, statuses: [])
    }

    /// Whether a raw name is printable ASCII without `\`, as nearly every name is: its text is its
    /// bytes, with no validation or escaping.
    public static func isPlain<Raw: Collection<UInt8>>(_ raw: Raw) -> Bool {
        raw.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C }
    }

    /// The text form of a raw name: valid UTF-8 without control characters or `\` stays as it is;
    /// anything else is escaped by ``TerminalText``, and flagged, since it no longer reaches the file.
    public static func displayName<Raw: RandomAccessCollection<UInt8>>(_ raw: Raw) -> (String, Bool)
    where Raw.Index == Int {
        if isPlain(raw) { return (String(decoding: raw, as: UTF8.self), false) }
        if TerminalText.isPlain(bytes: raw, escapingBackslash: true), let text = String(validating: raw, as: UTF8.self)
        {
            return (text, false)
        }
        return (TerminalText.escaped(bytes: raw, escapingBackslash: true), true)
    }
}
