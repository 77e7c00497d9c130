import Foundation
import RecordStore

/// The inotify watch source: watches the records and locks directories and turns the kernel's
/// events into ``DirectoryChanges``. It reads no file and judges nothing.
final class InotifySource {
    private let inotify: InotifyWatch
    private var watchedDirectories: [Int32: String] = [:]

    /// Reads (closes without writing) are watched for poll pressure, so a writer's open does not count.
    /// Opens are watched too, only so that the kernel, which merges an event identical to the last one
    /// queued, does not fold a waiter's repeated reads into one.
    private static let watchMask = InotifyWatch.directoryChanges | InotifyWatch.opened | InotifyWatch.closedWithoutWrite

    /// Starts an inotify instance with no watch.
    init() throws(RecordStoreError) {
        inotify = try InotifyWatch()
    }

    /// The descriptor to poll.
    var fileDescriptor: Int32 { inotify.fileDescriptor }

    /// Watches the directory of the handle `directory`, or changes the mask of its watch. Opens are left out while the monitor
    /// scans, so that reading ten thousand lock files does not flood the queue with its own events.
    func watch(_ directory: DirectoryHandle, watchingOpens: Bool) throws(RecordStoreError) {
        let watch = try inotify.add(
            directory: directory, mask: watchingOpens ? Self.watchMask : InotifyWatch.directoryChanges)
        watchedDirectories[watch] = directory.path
    }

    /// Stops watching `directory`.
    func unwatch(_ directory: String) {
        for (watch, watched) in watchedDirectories where watched == directory {
            watchedDirectories[watch] = nil
            inotify.remove(watch: watch)
        }
    }

    /// The changes queued since the last call, sorted by the rules of names (``DirectoryNames``):
    /// lock files in the locks directory, records in the records directory (they may be one directory).
    func readChanges(
        recordsDirectory: String, locksDirectory: String
    ) -> DirectoryChanges {
        var changes = DirectoryChanges()
        // Lock names renamed away, by cookie: a rename's two events are read together.
        var movedLocks: [UInt32: String] = [:]
        for event in inotify.readEventsPairingRenames() {
            if event.watch == -1 || event.has(InotifyWatch.queueOverflow) {
                changes.overflowed = true
                continue
            }
            guard let directory = watchedDirectories[event.watch] else { continue }
            if event.has(InotifyWatch.selfDeleted | InotifyWatch.selfMoved | InotifyWatch.ignored) {
                if !changes.lostDirectories.contains(directory) { changes.lostDirectories.append(directory) }
                continue
            }
            guard !event.name.isEmpty else { continue }
            let (name, escaped) = DirectoryListing.displayName(event.name)
            if DirectoryNames.isPrivate(name) {
                guard directory == locksDirectory else { continue }
                if event.has(InotifyWatch.movedTo), let lockName = movedLocks.removeValue(forKey: event.cookie) {
                    changes.asidesArrived.append(.init(aside: name, lockName: lockName))
                } else if event.has(InotifyWatch.deleted | InotifyWatch.movedFrom) {
                    changes.asidesGone.append(name)
                }
                continue
            }
            if directory == locksDirectory, DirectoryNames.isLockName(name) {
                if event.has(InotifyWatch.movedFrom) { movedLocks[event.cookie] = name }
                if event.has(InotifyWatch.closedWithoutWrite) {
                    changes.lockReads.append(name)
                } else if !event.has(InotifyWatch.opened) {
                    changes.noteLock(name)
                    // An escaped name reaches no file: the bytes do.
                    if escaped { changes.rawNames[name] = event.name }
                }
            }
            if directory == recordsDirectory, DirectoryNames.isRecordName(name),
                !event.has(InotifyWatch.opened | InotifyWatch.closedWithoutWrite)
            {
                changes.recordsToRead.insert(name)
            }
        }
        return changes
    }
}
