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
    /// Every entry of `path` except `.` and `..`.
    public static func list(_ path: String) throws(RecordStoreError) -> [ListedFile] {
        guard let directory = opendir(path) else {
            let code = errno
            if code == ENOENT { throw .directoryMissing(path: path) }
            throw FileSystem.error("open directory", path, code)
        }
        defer { closedir(directory) }
        let descriptor = dirfd(directory)
        var files: [ListedFile] = []
        while let entry = readdir(directory) {
            let listed: ListedFile? = withUnsafePointer(to: &entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: 256) { namePointer -> ListedFile? in
                    let length = strlen(namePointer)
                    let raw = UnsafeRawBufferPointer(start: namePointer, count: length)
                    if length == 1 && raw[0] == 0x2E { return nil }
                    if length == 2 && raw[0] == 0x2E && raw[1] == 0x2E { return nil }
                    var info = stat()
                    let status = fstatat(descriptor, namePointer, &info, AT_SYMLINK_NOFOLLOW) == 0 ? FileSystem.Status(info) : nil
                    if let name = String(validating: raw, as: UTF8.self), !name.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0x5C }) {
                        return ListedFile(name: name, isEscaped: false, status: status)
                    }
                    let (name, escaped) = displayName(Array(raw))
                    return ListedFile(name: name, isEscaped: escaped, status: status)
                }
            }
            if let listed { files.append(listed) }
        }
        return files
    }

    /// The text form of a raw name: valid UTF-8 without control characters stays as it is;
    /// anything else is escaped byte by byte as `\xNN`.
    public static func displayName(_ raw: [UInt8]) -> (String, Bool) {
        if let text = String(validating: raw, as: UTF8.self),
           !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0 == "\\" }) {
            return (text, false)
        }
        var output = ""
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            if byte >= 0x20 && byte < 0x7F && byte != 0x5C {
                output.unicodeScalars.append(Unicode.Scalar(byte))
                index += 1
                continue
            }
            if byte >= 0x80, let length = utf8Length(raw, at: index),
               let scalar = String(validating: raw[index..<(index + length)], as: UTF8.self) {
                output += scalar
                index += length
                continue
            }
            output += String(format: "\\x%02X", byte)
            index += 1
        }
        return (output, true)
    }

    private static func utf8Length(_ raw: [UInt8], at index: Int) -> Int? {
        let lead = raw[index]
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0
        guard length > 0, index + length <= raw.count else { return nil }
        return length
    }
}
