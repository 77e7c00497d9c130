import Foundation
import RecordStore

/// Every record and lock in the watched directories, with the lock each record maps to.
public struct DirectorySnapshot: Sendable {
    /// The records directory.
    public let recordsDirectory: String
    /// The locks directory (the records directory for Prefect 3.0).
    public let locksDirectory: String
    /// Records by key.
    public private(set) var records: [String: RecordEntry] = [:]
    /// Locks by file name.
    public private(set) var locks: [String: LockEntry] = [:]
    /// The first record key mapping to each lock file name. Kept apart from the rare shared
    /// lock files so that a hundred thousand records cost no allocation each.
    private var firstRecordByLock: [String: String] = [:]
    /// Further record keys for lock files that several records share.
    private var moreRecordsByLock: [String: [String]] = [:]

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
        guard let first = firstRecordByLock[name] else { return [] }
        return ([first] + (moreRecordsByLock[name] ?? [])).sorted()
    }

    /// Whether more than one record maps to the lock file `name`.
    public func isShared(_ name: String) -> Bool {
        moreRecordsByLock[name] != nil
    }

    /// Reads both directories from scratch.
    public static func scan(recordsDirectory: String, locksDirectory: String) throws(RecordStoreError) -> DirectorySnapshot {
        var snapshot = DirectorySnapshot(recordsDirectory: recordsDirectory, locksDirectory: locksDirectory)
        let recordFiles = try DirectoryListing.list(recordsDirectory)
        snapshot.records.reserveCapacity(recordFiles.count)
        snapshot.firstRecordByLock.reserveCapacity(recordFiles.count)
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
        if records[name] == entry { return false }
        setRecord(entry)
        return true
    }

    /// Stores or replaces a record.
    public mutating func setRecord(_ record: RecordEntry) {
        guard records.updateValue(record, forKey: record.key) == nil else { return }
        let lock = RecordKey.lockFileName(forKey: record.key)
        if firstRecordByLock[lock] == nil {
            firstRecordByLock[lock] = record.key
        } else {
            moreRecordsByLock[lock, default: []].append(record.key)
        }
    }

    /// Removes a record; returns whether it was there.
    @discardableResult
    public mutating func removeRecord(key: String) -> Bool {
        guard records.removeValue(forKey: key) != nil else { return false }
        let lock = RecordKey.lockFileName(forKey: key)
        if firstRecordByLock[lock] == key {
            if var more = moreRecordsByLock[lock], !more.isEmpty {
                firstRecordByLock[lock] = more.removeFirst()
                moreRecordsByLock[lock] = more.isEmpty ? nil : more
            } else {
                firstRecordByLock[lock] = nil
            }
        } else {
            moreRecordsByLock[lock]?.removeAll { $0 == key }
            if moreRecordsByLock[lock]?.isEmpty == true { moreRecordsByLock[lock] = nil }
        }
        return true
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
}
