import Foundation
import RecordStore
#if canImport(Glibc)
import Glibc
#endif

/// Polling that costs what changed, for filesystems where inotify cannot see other hosts (NFS, CIFS,
/// FUSE). Each interval it stats the directories and reads their names again only when one moved
/// (and every ``namesPeriod`` regardless, past attribute caches). It stats every lock file when a
/// directory moved; otherwise the lock files that are young, empty or garbled (a writer may still
/// be at them) and the rest a slice at a time, each once per ``lockPeriod``; and the records a
/// slice at a time, each once per ``recordPeriod``.
struct PollingScanner {
    /// The longest time names go unread, whatever the directory stamps say.
    static let namesPeriod: TimeInterval = 60
    /// Every lock file is statted once in this period, and every interval while it is young.
    static let lockPeriod: TimeInterval = 10
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
    private var recordCursor: Cursor
    private var lockCursor: Cursor

    /// Starts from `snapshot`, just scanned.
    init(_ snapshot: DirectorySnapshot, at now: Date) {
        namesReadAt = now
        recordCursor = Cursor(snapshot.records.values.filter { !$0.nameIsEscaped }.map(\.key))
        lockCursor = Cursor(snapshot.locks.values.filter { !$0.nameIsEscaped }.map(\.name))
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
        let directoryMoved = namesDue
        if namesDue, readNames(&snapshot, into: &found) { namesReadAt = now }
        var candidates: Set<String> = []
        if directoryMoved {
            candidates = Set(snapshot.locks.keys)
        } else {
            for lock in snapshot.locks.values where lock.content == nil || now.timeIntervalSince(lock.acquired) < Self.lockPeriod {
                candidates.insert(lock.name)
            }
            candidates.formUnion(lockCursor.next(Self.slice(of: lockCursor.count, interval: interval, period: Self.lockPeriod)))
        }
        for name in candidates {
            guard let lock = snapshot.locks[name], !lock.nameIsEscaped else { continue }
            let status = try? FileSystem.status(lock.path)
            if status.map({ !$0.hasSameContent(as: lock.status) }) ?? true { found.locks.insert(name) }
        }
        let directory = open(snapshot.recordsDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if directory >= 0 { close(directory) } }
        for key in recordCursor.next(Self.slice(of: recordCursor.count, interval: interval, period: Self.recordPeriod))
        where !Self.isUnchanged(snapshot.records[key], in: directory) && snapshot.refreshRecord(named: key) {
            found.records.insert(key)
        }
        return found
    }

    /// Whether `record` still has its size and modification time, by one `fstatat` in the open
    /// `directory`: the cheap check that most records pass.
    private static func isUnchanged(_ record: RecordEntry?, in directory: Int32) -> Bool {
        guard let record, directory >= 0 else { return false }
        var raw = stat()
        guard fstatat(directory, record.key, &raw, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        let modified = TimeInterval(raw.st_mtim.tv_sec) + TimeInterval(raw.st_mtim.tv_nsec) / 1e9
        return Int(raw.st_size) == record.size && modified == record.modified.timeIntervalSince1970
    }

    /// Names taken a slice at a time, round and round.
    struct Cursor {
        private var names: [String]
        private var position = 0

        init(_ names: [String]) {
            self.names = names
        }

        var count: Int { names.count }

        /// Starts over with `names`, unless they are the same.
        mutating func reset(_ names: Set<String>) {
            if names.count != self.names.count || !names.isSuperset(of: self.names) { self.names = Array(names) }
        }

        /// The next `count` names.
        mutating func next(_ count: Int) -> [String] {
            guard !names.isEmpty else { return [] }
            return (0..<min(count, names.count)).map { _ in
                position = position % names.count
                defer { position += 1 }
                return names[position]
            }
        }
    }

    /// How many of `count` files to look at each `interval` so that each is seen once per `period`.
    private static func slice(of count: Int, interval: TimeInterval, period: TimeInterval) -> Int {
        min(count, Int((Double(count) * interval / period).rounded(.up)))
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
        recordCursor.reset(records)
        lockCursor.reset(locks)
        return true
    }
}
