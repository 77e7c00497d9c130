import Foundation
import RecordStore

/// Every record and lock in the watched directories, with the lock each record maps to.
public struct DirectorySnapshot: Sendable {
    /// The records directory.
    public let recordsDirectory: String
    /// The locks directory (the records directory for Prefect 3.0).
    public let locksDirectory: String
    /// Records by key, with the lock file each maps to.
    public private(set) var records = RecordTable()
    /// Locks by file name.
    public private(set) var locks: [String: LockEntry] = [:]

    /// An empty snapshot of the two directories.
    public init(recordsDirectory: String, locksDirectory: String) {
        self.recordsDirectory = recordsDirectory
        self.locksDirectory = locksDirectory
    }

    /// Whether records and locks share one directory.
    public var isSingleDirectory: Bool { recordsDirectory == locksDirectory }

    /// Whether `name` is ours (temporary or set aside), never a record or lock.
    public static func isPrivate(_ name: String) -> Bool { name.hasPrefix(LockFiles.privatePrefix) }

    /// Whether a name in the records directory is a record.
    public func isRecordName(_ name: String) -> Bool {
        !Self.isPrivate(name) && RecordKey.lockStem(ofFileName: name) == nil
    }

    /// Whether a name in the locks directory is a lock file.
    public func isLockName(_ name: String) -> Bool {
        !Self.isPrivate(name) && RecordKey.lockStem(ofFileName: name) != nil
    }

    /// The record keys that map to the lock file `name`, sorted.
    public func recordKeys(forLock name: String) -> [String] {
        records.recordKeys(forLock: name)
    }

    /// Whether more than one record maps to the lock file `name`.
    public func isShared(_ name: String) -> Bool {
        records.isShared(name)
    }

    /// Reads both directories from scratch.
    public static func scan(recordsDirectory: String, locksDirectory: String) throws(RecordStoreError) -> DirectorySnapshot {
        var snapshot = DirectorySnapshot(recordsDirectory: recordsDirectory, locksDirectory: locksDirectory)
        let recordFiles = try DirectoryListing.list(recordsDirectory)
        snapshot.records.reserveCapacity(recordFiles.count)
        for file in recordFiles where snapshot.isRecordName(file.name) {
            guard let status = file.status, !status.isDirectory else { continue }
            snapshot.setRecord(RecordEntry(key: file.name, size: status.size, modified: Date(timeIntervalSince1970: status.modified),
                                           nameIsEscaped: file.isEscaped, isSymbolicLink: status.isSymbolicLink))
        }
        let lockFiles = snapshot.isSingleDirectory ? recordFiles : try DirectoryListing.list(locksDirectory)
        for file in lockFiles where snapshot.isLockName(file.name) {
            if let entry = LockEntry.read(name: file.name, path: "\(locksDirectory)/\(file.name)", nameIsEscaped: file.isEscaped,
                                          knownStatus: file.status) {
                snapshot.setLock(entry)
            }
        }
        return snapshot
    }

    /// Re-reads one record name and returns whether anything changed.
    @discardableResult
    public mutating func refreshRecord(named name: String) -> Bool {
        guard isRecordName(name) else { return false }
        let status = try? FileSystem.status("\(recordsDirectory)/\(name)")
        guard let status, !status.isDirectory else {
            return removeRecord(key: name)
        }
        let entry = RecordEntry(key: name, size: status.size, modified: Date(timeIntervalSince1970: status.modified),
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

    /// The first `limit` record keys without a lock file, in key order, and how many there are:
    /// without sorting them all, for a million records.
    public func unlockedRecordKeys(limit: Int) -> (keys: [String], count: Int) {
        var smallest: [String] = []
        var count = 0
        for record in records where locks[RecordKey.lockFileName(forKey: record.key)] == nil {
            count += 1
            guard smallest.count < limit || record.key < smallest[smallest.count - 1] else { continue }
            var low = 0, high = smallest.count
            while low < high {
                let middle = (low + high) / 2
                if smallest[middle] < record.key { low = middle + 1 } else { high = middle }
            }
            smallest.insert(record.key, at: low)
            if smallest.count > limit { smallest.removeLast() }
        }
        return (smallest, count)
    }
}
