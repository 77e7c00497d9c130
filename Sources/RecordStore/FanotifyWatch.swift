import CLocktopSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// fanotify, which unlike inotify says which process opened a file. The corresponding C
/// functions are `fanotify_init` and `fanotify_mark`; both need CAP_SYS_ADMIN.
public final class FanotifyWatch {
    /// The descriptor to wait on with `poll(2)`.
    public let fileDescriptor: Int32
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    private let ownProcessID = getpid()

    /// The bits of the events read.
    static let closeWrite: UInt64 = 0x08
    static let closeNoWrite: UInt64 = 0x10
    static let queueOverflow: UInt64 = 0x4000

    /// Watches every close of a file in the directory of the handle `directory` (its very inode).
    /// Throws ``RecordStoreError/permissionDenied(path:operation:)`` without the privilege.
    public init(directory: DirectoryHandle) throws(RecordStoreError) {
        let fd = locktop_fanotify_watch(directory.descriptor.rawValue)
        guard fd >= 0 else { throw Self.error(errno, directory.path) }
        fileDescriptor = fd
    }

    deinit { close(fileDescriptor) }

    /// Watches the closes in `directory` too: one that came back after it was removed, for one.
    public func add(directory: DirectoryHandle) throws(RecordStoreError) {
        guard locktop_fanotify_add(fileDescriptor, directory.descriptor.rawValue) == 0 else {
            throw Self.error(errno, directory.path)
        }
    }

    private static func error(_ code: Int32, _ path: String) -> RecordStoreError {
        code == EPERM || code == EACCES
            ? .permissionDenied(path: path, operation: "watch with fanotify (needs root)")
            : FileSystem.error("fanotify", path, code)
    }

    /// Every close queued, without blocking; closes by this process are left out.
    public func readCloses() -> [FileClose] {
        var closes: [FileClose] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fileDescriptor, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return closes }
            var offset = 0
            while offset + 24 <= count {
                let (length, mask, fd, pid) = buffer.withUnsafeBytes { raw in
                    (
                        Int(raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)),
                        raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self),
                        raw.loadUnaligned(fromByteOffset: offset + 16, as: Int32.self),
                        raw.loadUnaligned(fromByteOffset: offset + 20, as: Int32.self)
                    )
                }
                guard length >= 24, offset + length <= count else { break }
                let exited = Self.processExited(pid: pid, recordOf: buffer[offset..<(offset + length)])
                offset += length
                guard fd >= 0 else { continue }
                defer { close(fd) }
                guard pid != ownProcessID, mask & (Self.closeWrite | Self.closeNoWrite) != 0,
                    let path = Self.path(of: fd), let status = try? FileSystem.status(of: fd, path: path)
                else { continue }
                let directory = (path as NSString).deletingLastPathComponent
                closes.append(
                    FileClose(
                        processID: pid, directory: directory, name: (path as NSString).lastPathComponent,
                        file: FileKey(status), wrote: mask & Self.closeWrite != 0, processExited: exited))
            }
        }
    }

    /// The info record type of a pidfd (FAN_EVENT_INFO_TYPE_PIDFD), and the pidfd of a process
    /// that had been reaped when the event was read (FAN_NOPIDFD).
    static let pidfdRecord: UInt8 = 4
    static let noProcessFD: Int32 = -1

    /// Whether the event `event` (metadata and info records) says its process `pid` had exited
    /// when it was read: its pidfd record holds FAN_NOPIDFD (reaped), or a pidfd that polls
    /// readable (a zombie). Closes the pidfd. False without a pidfd record (a kernel before 5.15)
    /// or when the pidfd could not be made for another reason.
    static func processExited(pid: Int32, recordOf event: ArraySlice<UInt8>) -> Bool {
        event.withUnsafeBytes { raw in
            let metadataLength = Int(raw.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
            var offset = max(24, metadataLength)
            while offset + 8 <= raw.count {
                let type = raw[offset]
                let length = Int(raw.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self))
                guard length >= 4, offset + length <= raw.count else { return false }
                if type == pidfdRecord {
                    let pidfd = raw.loadUnaligned(fromByteOffset: offset + 4, as: Int32.self)
                    if pidfd == noProcessFD { return pid > 0 }
                    guard pidfd >= 0 else { return false }
                    defer { close(pidfd) }
                    var descriptor = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
                    return poll(&descriptor, 1, 0) == 1 && descriptor.revents & Int16(POLLIN) != 0
                }
                offset += length
            }
            return false
        }
    }

    /// The path a descriptor refers to now, as the kernel names it; nil for a deleted file.
    public static func path(of fd: Int32) -> String? {
        var target = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/fd/\(fd)", &target, target.count - 1)
        guard length > 0 else { return nil }
        let path = String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path.hasSuffix(" (deleted)") ? nil : path
    }
}
