import Foundation
import RecordStore

/// Every record and lock in the watched directories, with the lock each record maps to.
public struct DirectorySnapshot: Sendable {
    /// The records directory.
    public let recordsDirectory: String
    /// The locks directory (the records directory for Prefect 3.0).
    public let locksDirectory: String
    /// The records directory's handle, through which it is read; nil while it is missing.
    public let recordsHandle: DirectoryHandle?
    /// The locks directory's handle (the records directory's when they are one); nil while it is missing.
    public let locksHandle: DirectoryHandle?
    /// Records by key, with the lock file each maps to.
    public private(set) var records = RecordTable()
    /// Locks by file name.
    public private(set) var locks: [String: LockEntry] = [:]

    /// An empty snapshot of two directories that are missing.
    public init(recordsDirectory: String, locksDirectory: String) {
        self.recordsDirectory = recordsDirectory
        self.locksDirectory = locksDirectory
        recordsHandle = nil
        locksHandle = nil
    }

    /// An empty snapshot of the two directories opened as `records` and `locks`.
    public init(records: DirectoryHandle, locks: DirectoryHandle) {
        recordsDirectory = records.path
        locksDirectory = locks.path
        recordsHandle = records
        locksHandle = locks
    }

    /// Whether records and locks share one directory.
    public var isSingleDirectory: Bool { recordsDirectory == locksDirectory }

    /// The record keys that map to the lock file `name`, sorted.
    public func recordKeys(forLock name: String) -> [String] {
        records.recordKeys(forLock: name)
    }

    /// Whether more than one record maps to the lock file `name`.
    public func isShared(_ name: String) -> Bool {
        records.isShared(name)
    }

    /// Reads both directories from scratch, every record statted; with `pendingRecords`, records
    /// are listed without a `stat` (``RecordListing/Statuses/pending``).
    public static func scan(
        records: DirectoryHandle, locks: DirectoryHandle, pendingRecords: Bool = false
    ) throws(RecordStoreError) -> DirectorySnapshot {
        var (snapshot, listing) = try scanLocks(records: records, locks: locks, statting: !pendingRecords)
        snapshot.records = listing.table(pendingRecords ? .pending : .listed)
        return snapshot
    }

    /// Reads the locks, and lists the records without indexing them (statting each in the listing
    /// with `statting`): the snapshot's table stays empty until ``installRecords(_:)`` gets the
    /// listing's table.
    public static func scanLocks(records: DirectoryHandle, locks: DirectoryHandle, statting: Bool = false)
        throws(RecordStoreError) -> (snapshot: DirectorySnapshot, records: RecordListing)
    {
        let snapshot = DirectorySnapshot(records: records, locks: locks)
        let listing = try DirectoryListing.raw(records, statting: statting)
        var lockFiles: [ListedFile] = []
        var recordCount = 0
        for index in 0..<listing.count {
            listing.withName(index) { raw in
                guard !DirectoryNames.isPrivate(raw) else { return }
                guard RecordKey.isLockFileName(raw) else {
                    recordCount += 1
                    return
                }
                guard snapshot.isSingleDirectory else { return }
                let (name, escaped) = DirectoryListing.displayName(raw)
                // A name that had to be escaped no longer reaches its file: it is statted by its
                // raw bytes now, so that it is listed (`unreadable`) on every surface, as `list` lists it.
                let status =
                    statting
                    ? listing.statuses[index] : escaped ? ((try? records.status(ofRaw: Array(raw))) ?? nil) : nil
                lockFiles.append(ListedFile(name: name, isEscaped: escaped, status: status))
            }
        }
        if !snapshot.isSingleDirectory {
            lockFiles = try DirectoryListing.list(locks).filter { DirectoryNames.isLockName($0.name) }
        }
        let entries = ParallelMap.map(lockFiles.count, threshold: 256) { index in
            let file = lockFiles[index]
            return LockEntry.read(file.name, in: locks, nameIsEscaped: file.isEscaped, knownStatus: file.status)
        }
        var locked = snapshot
        for entry in entries {
            if let entry { locked.setLock(entry) }
        }
        return (locked, RecordListing(directory: records, listing: listing, count: recordCount))
    }

    /// Puts in the records of a ``scanLocks(records:locks:statting:)``, whose table was
    /// built apart.
    public mutating func installRecords(_ table: RecordTable) {
        records = table
    }

    /// Re-reads one record name and returns whether anything changed.
    @discardableResult
    public mutating func refreshRecord(named name: String) -> Bool {
        guard DirectoryNames.isRecordName(name) else { return false }
        let status = (try? recordsHandle?.status(of: name)) ?? nil
        guard let status, !status.isDirectory else {
            return removeRecord(key: name)
        }
        let entry = RecordEntry(
            key: name, size: status.size, modified: Date(timeIntervalSince1970: status.modified),
            isSymbolicLink: status.isSymbolicLink)
        return setRecord(entry)
    }

    /// Stores or replaces a record; returns whether anything changed.
    @discardableResult
    public mutating func setRecord(_ record: RecordEntry) -> Bool {
        records.set(record)
    }

    /// Removes a record; returns whether it was there.
    @discardableResult
    public mutating func removeRecord(key: String) -> Bool {
        records.remove(key: key)
    }

    /// Stores or replaces a lock.
    public mutating func setLock(_ lock: LockEntry) {
        locks[lock.name] = lock
    }

    /// Removes a lock and returns it.
    @discardableResult
    public mutating func removeLock(named name: String) -> LockEntry? {
        locks.removeValue(forKey: name)
    }

    /// Record keys that have no lock file, sorted.
    public var unlockedRecordKeys: [String] {
        records.keys.filter { locks[RecordKey.lockFileName(forKey: $0)] == nil }.sorted()
    }

    /// The first `limit` record keys without a lock file, in key (byte) order, and how many there
    /// are: without sorting them all, for a million records.
    public func unlockedRecordKeys(limit: Int) -> (keys: [String], count: Int) {
        records.firstKeys(limit: limit, withoutLockIn: locks.keys)
    }
}
