import Foundation

/// Sleeps until one lock file in a directory changes, woken by inotify.
final class LockWaiter {
    private let watch: InotifyWatch
    private let lockName: [UInt8]

    /// Starts watching `directory` for changes to the file at `lockPath`.
    /// Create the waiter before checking the lock, so no change between check and wait is missed.
    init(directory: String, lockPath: String) throws(RecordStoreError) {
        watch = try InotifyWatch()
        lockName = Array((lockPath as NSString).lastPathComponent.utf8)
        try watch.add(path: directory, mask: InotifyWatch.directoryChanges)
    }

    /// Returns when the lock file is created, rewritten, renamed or removed, when the directory goes,
    /// when the queue overflows, or after `seconds` (nil: no limit).
    func wait(seconds: TimeInterval?) {
        let deadline = seconds.map { MonotonicClock.seconds() + max(0, $0) }
        while true {
            let remaining = deadline.map { max(0, $0 - MonotonicClock.seconds()) }
            guard watch.waitForEvents(timeout: remaining) else { return }
            for event in watch.readEvents() {
                if event.name == lockName || event.watch == -1
                    || event.has(InotifyWatch.selfDeleted | InotifyWatch.selfMoved | InotifyWatch.ignored) {
                    return
                }
            }
            if let remaining, remaining <= 0 { return }
        }
    }
}
