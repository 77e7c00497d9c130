import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One event read from inotify.
public struct InotifyEvent: Equatable, Sendable {
    /// The watch descriptor the event belongs to; -1 for a queue overflow.
    public let watch: Int32
    /// The `IN_*` bits.
    public let mask: UInt32
    /// Pairs `IN_MOVED_FROM` with its `IN_MOVED_TO`.
    public let cookie: UInt32
    /// The file name inside the watched directory, as raw bytes; empty for the directory itself.
    public let name: [UInt8]

    /// Whether any of `bits` is set.
    public func has(_ bits: UInt32) -> Bool { mask & bits != 0 }
}

/// A nonblocking inotify instance. The corresponding C functions are `inotify_init1`,
/// `inotify_add_watch` and `read`.
public final class InotifyWatch {
    /// The descriptor to wait on with `poll(2)`.
    public let fileDescriptor: Int32

    public static let created = UInt32(IN_CREATE)
    public static let deleted = UInt32(IN_DELETE)
    public static let movedFrom = UInt32(IN_MOVED_FROM)
    public static let movedTo = UInt32(IN_MOVED_TO)
    public static let closedAfterWrite = UInt32(IN_CLOSE_WRITE)
    public static let closedWithoutWrite = UInt32(IN_CLOSE_NOWRITE)
    public static let opened = UInt32(IN_OPEN)
    public static let selfDeleted = UInt32(IN_DELETE_SELF)
    public static let selfMoved = UInt32(IN_MOVE_SELF)
    public static let ignored = UInt32(IN_IGNORED)
    public static let queueOverflow = UInt32(IN_Q_OVERFLOW)
    public static let onlyDirectory = UInt32(IN_ONLYDIR)
    /// Every change of a name or of content in a directory, and the directory going away.
    public static let directoryChanges =
        created | deleted | movedFrom | movedTo | closedAfterWrite
        | selfDeleted | selfMoved | onlyDirectory

    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// Creates a nonblocking, close-on-exec inotify instance.
    public init() throws(RecordStoreError) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw FileSystem.error("inotify_init1", "inotify", errno) }
        fileDescriptor = fd
    }

    deinit { close(fileDescriptor) }

    /// Watches `path` for the events in `mask` and returns the watch descriptor.
    @discardableResult
    public func add(path: String, mask: UInt32) throws(RecordStoreError) -> Int32 {
        let watch = inotify_add_watch(fileDescriptor, path, mask)
        guard watch >= 0 else {
            let code = errno
            if code == ENOENT { throw .directoryMissing(path: path) }
            throw FileSystem.error("watch", path, code)
        }
        return watch
    }

    /// Watches the directory of `directory`'s handle (through its descriptor, so the very inode
    /// opened) for the events in `mask`, and returns the watch descriptor.
    @discardableResult
    public func add(directory: DirectoryHandle, mask: UInt32) throws(RecordStoreError) -> Int32 {
        let watch = inotify_add_watch(fileDescriptor, directory.descriptorPath, mask)
        guard watch >= 0 else { throw FileSystem.error("watch", directory.path, errno) }
        return watch
    }

    /// Stops a watch.
    public func remove(watch: Int32) {
        inotify_rm_watch(fileDescriptor, watch)
    }

    /// Waits until an event is ready or `timeout` seconds pass (nil waits forever).
    /// Returns whether events are ready. A signal ends the wait early.
    public func waitForEvents(timeout: TimeInterval?) -> Bool {
        var pollDescriptor = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = timeout.map { Int32(max(0, min($0 * 1000, 86_400_000)).rounded(.up)) } ?? -1
        return poll(&pollDescriptor, 1, milliseconds) > 0
    }

    /// Reads every queued event, as ``readEvents()``, but a rename's `IN_MOVED_FROM` with no
    /// `IN_MOVED_TO` after it waits up to `pairWait` seconds for it: the kernel queues the two one
    /// after the other, and a read may come between them (inotify(7)). A file renamed out of every
    /// watched directory costs that wait once.
    public func readEventsPairingRenames(within pairWait: TimeInterval = 0.01) -> [InotifyEvent] {
        var events = readEvents()
        let deadline = MonotonicClock.seconds() + pairWait
        while Self.hasUnpairedRename(events) {
            let left = deadline - MonotonicClock.seconds()
            guard left > 0, waitForEvents(timeout: left) else { break }
            events += readEvents()
        }
        return events
    }

    /// Whether some `IN_MOVED_FROM` in `events` has no `IN_MOVED_TO` of its cookie.
    static func hasUnpairedRename(_ events: [InotifyEvent]) -> Bool {
        var cookies = Set<UInt32>()
        for event in events where event.cookie != 0 {
            if event.has(movedFrom) { cookies.insert(event.cookie) }
            if event.has(movedTo) { cookies.remove(event.cookie) }
        }
        return !cookies.isEmpty
    }

    /// Reads every queued event without blocking.
    public func readEvents() -> [InotifyEvent] {
        var events: [InotifyEvent] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fileDescriptor, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return events }
            buffer.withUnsafeBytes { raw in
                var offset = 0
                while offset + 16 <= count {
                    let watch = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                    let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let cookie = raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
                    let length = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    var name = Array(raw[(offset + 16)..<min(count, offset + 16 + length)])
                    if let end = name.firstIndex(of: 0) { name.removeSubrange(end...) }
                    events.append(InotifyEvent(watch: watch, mask: mask, cookie: cookie, name: name))
                    offset += 16 + length
                }
            }
        }
    }
}
