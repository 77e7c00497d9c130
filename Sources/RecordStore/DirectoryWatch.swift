import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One inotify watch on a store's directory, kept for the store's life and shared by every wait.
///
/// Acquiring never creates or closes an inotify descriptor: closing one that has a watch waits for
/// an RCU grace period, measured here at 0.1 ms usually and 7–16 ms often, which a waiter used to pay
/// on its way out of `acquireLock`. Waits take a mark of the lock file's name before they check the
/// lock, and return as soon as an event for that name (or an overflow, or the directory going)
/// arrives after the mark.
final class DirectoryWatch: Sendable {
    private struct Counts: ~Copyable {
        let watch: InotifyWatch
        /// Events seen per lock file name that someone waits on.
        var byName: [[UInt8]: UInt64] = [:]
        /// Overflows and the directory going, which concern every name.
        var everything: UInt64 = 0
        /// Whether a thread is in `poll(2)` on the descriptor; the others let it read.
        var reading = false
    }

    private let fileDescriptor: Int32
    private let counts: Mutex<Counts>

    /// Watches the directory of the handle `directory` for changes of names and content.
    init(directory: DirectoryHandle) throws(RecordStoreError) {
        let watch = try InotifyWatch()
        try watch.add(directory: directory, mask: InotifyWatch.directoryChanges)
        fileDescriptor = watch.fileDescriptor
        counts = Mutex(Counts(watch: watch))
    }

    /// Reads what is pending and returns a mark for `name`. Take it before checking the lock, so a
    /// change between the check and ``wait(for:since:seconds:)`` still ends the wait.
    func mark(for name: [UInt8]) -> UInt64 {
        counts.withLock { counts in
            if counts.byName[name] == nil { counts.byName[name] = 0 }
            Self.drain(&counts)
            return counts.byName[name, default: 0] &+ counts.everything
        }
    }

    /// Returns when `name` changed after `mark`, or after `seconds` (nil: no limit).
    func wait(for name: [UInt8], since mark: UInt64, seconds: TimeInterval?) {
        let deadline = seconds.map { MonotonicClock.seconds() + max(0, $0) }
        while true {
            let (changed, readerBusy) = counts.withLock { counts in
                let changed = counts.byName[name, default: 0] &+ counts.everything != mark
                let busy = counts.reading
                if !changed && !busy { counts.reading = true }
                return (changed, busy)
            }
            if changed { return }
            let remaining = deadline.map { $0 - MonotonicClock.seconds() }
            if let remaining, remaining <= 0 {
                if !readerBusy { counts.withLock { $0.reading = false } }
                return
            }
            if readerBusy {
                usleep(500)
                continue
            }
            var descriptor = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
            let milliseconds = remaining.map { Int32(min($0 * 1000, 86_400_000).rounded(.up)) } ?? -1
            _ = poll(&descriptor, 1, milliseconds)
            counts.withLock { counts in
                Self.drain(&counts)
                counts.reading = false
            }
        }
    }

    private static func drain(_ counts: inout Counts) {
        for event in counts.watch.readEvents() {
            if event.watch == -1 || event.has(InotifyWatch.selfDeleted | InotifyWatch.selfMoved | InotifyWatch.ignored)
            {
                counts.everything &+= 1
            } else if let seen = counts.byName[event.name] {
                counts.byName[event.name] = seen &+ 1
            }
        }
    }
}
