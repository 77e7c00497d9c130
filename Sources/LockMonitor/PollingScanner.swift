import Foundation
import RecordStore

/// Polling that costs what changed, for filesystems where inotify cannot see other hosts (NFS, CIFS,
/// FUSE). Each interval it stats the directories and reads their names again only when one moved
/// (and every ``namesPeriod`` regardless, past attribute caches); it stats every lock file, since
/// they are few, and the records a slice at a time, so that each is looked at once per ``recordPeriod``.
struct PollingScanner {
    /// The longest time names go unread, whatever the directory stamps say.
    static let namesPeriod: TimeInterval = 10
    /// Every record is statted once in this period.
    static let recordPeriod: TimeInterval = 30

    /// What one poll found.
    struct Found {
        /// Lock files that appeared, went or changed: to be read again.
        var locks: Set<String> = []
        /// Record keys whose entries changed; already applied to the snapshot.
        var records: Set<String> = []
        /// Watched directories that are gone.
        var missingDirectories: [String] = []
    }

    private var stamps: [String: (modified: Int64, changed: Int64)] = [:]
    private var namesReadAt: Date
    private var recordOrder: [String]
    private var recordCursor = 0

    /// Starts from `snapshot`, just scanned.
    init(_ snapshot: DirectorySnapshot, at now: Date) {
        namesReadAt = now
        recordOrder = snapshot.records.values.filter { !$0.nameIsEscaped }.map(\.key)
        for directory in Self.directories(of: snapshot) { stamps[directory] = FileSystem.changeStamp(directory) }
    }

    private static func directories(of snapshot: DirectorySnapshot) -> [String] {
        snapshot.isSingleDirectory ? [snapshot.recordsDirectory] : [snapshot.recordsDirectory, snapshot.locksDirectory]
    }

    /// One poll, `interval` after the last: applies record changes to `snapshot`, returns the lock
    /// files to read again.
    mutating func poll(_ snapshot: inout DirectorySnapshot, interval: TimeInterval, at now: Date) -> Found {
        var found = Found()
        var namesDue = now.timeIntervalSince(namesReadAt) >= Self.namesPeriod
        for directory in Self.directories(of: snapshot) {
            guard let stamp = FileSystem.changeStamp(directory) else {
                found.missingDirectories.append(directory)
                continue
            }
            if stamps[directory].map({ $0 != stamp }) ?? true { namesDue = true }
            stamps[directory] = stamp
        }
        guard found.missingDirectories.isEmpty else { return found }
        if namesDue, readNames(&snapshot, into: &found) { namesReadAt = now }
        for lock in snapshot.locks.values where !lock.nameIsEscaped {
            let status = try? FileSystem.status(lock.path)
            if status.map({ !$0.hasSameContent(as: lock.status) }) ?? true { found.locks.insert(lock.name) }
        }
        guard !recordOrder.isEmpty else { return found }
        let slice = min(recordOrder.count, Int((Double(recordOrder.count) * interval / Self.recordPeriod).rounded(.up)))
        for _ in 0..<slice {
            recordCursor = recordCursor % recordOrder.count
            let key = recordOrder[recordCursor]
            recordCursor += 1
            if snapshot.refreshRecord(named: key) { found.records.insert(key) }
        }
        return found
    }

    /// Reads the names of both directories and applies what came and went; false when a directory could not be read.
    private mutating func readNames(_ snapshot: inout DirectorySnapshot, into found: inout Found) -> Bool {
        guard let recordNames = try? DirectoryListing.names(snapshot.recordsDirectory),
              let lockNames = snapshot.isSingleDirectory ? recordNames : try? DirectoryListing.names(snapshot.locksDirectory) else {
            return false
        }
        let records = Set(recordNames.filter { !$0.isEscaped && snapshot.isRecordName($0.name) }.map(\.name))
        let known = Set(snapshot.records.values.filter { !$0.nameIsEscaped }.map(\.key))
        for key in records.symmetricDifference(known) where snapshot.refreshRecord(named: key) { found.records.insert(key) }
        let locks = Set(lockNames.filter { !$0.isEscaped && snapshot.isLockName($0.name) }.map(\.name))
        let knownLocks = Set(snapshot.locks.values.filter { !$0.nameIsEscaped }.map(\.name))
        found.locks.formUnion(locks.symmetricDifference(knownLocks))
        if records != known { recordOrder = Array(records) }
        return true
    }
}
