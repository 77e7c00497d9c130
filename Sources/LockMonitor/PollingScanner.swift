import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// Polling that costs what changed, for filesystems where inotify cannot see other hosts (NFS, CIFS,
/// FUSE). Each interval it stats the directories and reads their names again only when one moved,
/// or when one was changed so close to the last reading that a second change may share its
/// timestamp (``coarseTimestamp``), and every ``namesPeriod`` regardless, as a last resort.
/// Between intervals the monitor checks the directories' stamps alone every tick
/// (``directoriesMoved()``) and polls at once when one moved, so a lock that appears or goes shows
/// within a tick, not an interval. It stats every lock file when a directory moved; otherwise the lock files that are young, empty or garbled (a writer may still
/// be at them) and the rest a slice at a time, each once per ``lockPeriod``; and the records a
/// slice at a time, each once per ``recordPeriod``.
///
/// Those background slices are held to ``backgroundBudget`` of a core, from the measured cost of a
/// `stat`: on a FUSE mount, where each one is a round trip to a user-space server, a full pass takes
/// longer than the periods say (the locks keep three quarters of the budget).
struct PollingScanner {
    /// The longest time names go unread, whatever the directory stamps say.
    static let namesPeriod: TimeInterval = 600
    /// How coarse a directory's timestamps may be (some NFS servers keep whole seconds), in nanoseconds.
    static let coarseTimestamp: Int64 = 2_000_000_000
    /// Every lock file is statted once in this period, and every interval while it is young.
    static let lockPeriod: TimeInterval = 10
    /// Every record is statted once in this period.
    static let recordPeriod: TimeInterval = 30
    /// The share of a core the background slices may take.
    static let backgroundBudget = 0.005

    private var stamps: [String: (modified: Int64, changed: Int64)] = [:]
    /// The directories polled, by the handles the snapshot read them through.
    private let handles: [DirectoryHandle]
    private var namesReadAt: Date
    /// When names were last read, by the wall clock that stamps files, in nanoseconds.
    private var namesReadWallTime = PollingScanner.wallTime()
    private var recordCursor: Cursor
    private var lockCursor: Cursor
    /// The measured wall time of one `stat`, smoothed over polls.
    private var secondsPerStat = 0.000_002

    /// Starts from `snapshot`, just scanned.
    init(_ snapshot: DirectorySnapshot, at now: Date) {
        namesReadAt = now
        recordCursor = Cursor(snapshot.records.filter { !$0.nameIsEscaped }.map(\.key))
        lockCursor = Cursor(snapshot.locks.values.filter { !$0.nameIsEscaped }.map(\.name))
        handles = Self.directories(of: snapshot)
        for directory in handles { stamps[directory.path] = directory.changeStamp() }
    }

    /// The handles of the directories to poll: one when records and locks share it.
    private static func directories(of snapshot: DirectorySnapshot) -> [DirectoryHandle] {
        let both = [snapshot.recordsHandle, snapshot.isSingleDirectory ? nil : snapshot.locksHandle]
        return both.compactMap { $0 }
    }

    /// Stamps read by ``directoriesMoved()`` for the poll it sets off, so that poll reads none again.
    private var checkedStamps: [String: (modified: Int64, changed: Int64)?]?

    /// Whether a directory's stamp moved since the last poll (or it is gone): one `statx` each.
    mutating func directoriesMoved() -> Bool {
        let checked = handles.map { ($0.path, $0.changeStamp()) }
        let moved = checked.contains { directory, stamp in
            guard let stamp, let known = stamps[directory] else { return true }
            return stamp != known
        }
        checkedStamps = moved ? Dictionary(uniqueKeysWithValues: checked) : nil
        return moved
    }

    /// One poll, `interval` after the last: applies record changes to `snapshot`, returns the lock
    /// files to read again.
    mutating func poll(_ snapshot: inout DirectorySnapshot, interval: TimeInterval, at now: Date) -> DirectoryChanges {
        var found = DirectoryChanges()
        var directoryMoved = false
        let checked = checkedStamps
        checkedStamps = nil
        for directory in Self.directories(of: snapshot) {
            guard let stamp = checked?[directory.path] ?? directory.changeStamp() else {
                found.lostDirectories.append(directory.path)
                continue
            }
            if stamps[directory.path].map({ $0 != stamp }) ?? true { directoryMoved = true }
            stamps[directory.path] = stamp
        }
        guard found.lostDirectories.isEmpty else { return found }
        let mayHideAChange = stamps.values.contains {
            max($0.modified, $0.changed) >= namesReadWallTime - Self.coarseTimestamp
        }
        if directoryMoved || mayHideAChange || now.timeIntervalSince(namesReadAt) >= Self.namesPeriod {
            let readAt = Self.wallTime()
            if readNames(&snapshot, into: &found) {
                namesReadAt = now
                namesReadWallTime = readAt
            }
        }
        // A moved directory may hide a lock renamed over another: every lock is statted, when that
        // costs at most 2% of the interval; else the young ones and the slices, as when idle.
        let statsEveryLock = directoryMoved && Double(snapshot.locks.count) * secondsPerStat <= 0.02 * interval
        var candidates: Set<String> = []
        if statsEveryLock {
            candidates = Set(snapshot.locks.keys)
        } else {
            for lock in snapshot.locks.values
            where lock.content == nil || now.timeIntervalSince(lock.acquired) < Self.lockPeriod {
                candidates.insert(lock.name)
            }
        }
        let affordable = max(2, Int(Self.backgroundBudget * interval / secondsPerStat))
        let lockSlice = min(
            Self.slice(of: lockCursor.count, interval: interval, period: Self.lockPeriod), max(1, affordable * 3 / 4))
        let recordSlice = min(
            Self.slice(of: recordCursor.count, interval: interval, period: Self.recordPeriod),
            max(1, affordable - lockSlice))
        if !statsEveryLock { candidates.formUnion(lockCursor.next(lockSlice)) }
        let started = MonotonicClock.seconds()
        for name in candidates {
            guard let lock = snapshot.locks[name], !lock.nameIsEscaped else { continue }
            let status = (try? snapshot.locksHandle?.status(of: name)) ?? nil
            if status.map({ !$0.hasSameContent(as: lock.status) }) ?? true { found.noteLock(name) }
        }
        let directory = snapshot.recordsHandle?.descriptor.rawValue ?? -1
        let recordKeys = recordCursor.next(recordSlice)
        for key in recordKeys
        where !Self.isUnchanged(snapshot.records[key], in: directory) && snapshot.refreshRecord(named: key) {
            found.recordsRead.insert(key)
        }
        let statted = candidates.count + recordKeys.count
        if statted >= 16 {
            secondsPerStat = 0.7 * secondsPerStat + 0.3 * (MonotonicClock.seconds() - started) / Double(statted)
        }
        found.locks.sort()
        return found
    }

    /// The wall clock, in nanoseconds since 1970, as file timestamps are.
    private static func wallTime() -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1e9)
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

        /// Adds the names that came; when some went, starts over with `current()`.
        mutating func update(came: [String], went: Int, current: () -> [String]) {
            if went > 0 {
                names = current()
            } else {
                names += came
            }
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

    /// Reads the names of both directories and applies what came and went; false when a directory
    /// could not be read. One dictionary lookup per name; sets are built only when names went.
    private mutating func readNames(_ snapshot: inout DirectorySnapshot, into found: inout DirectoryChanges) -> Bool {
        guard let records = snapshot.recordsHandle, let locks = snapshot.locksHandle,
            let recordNames = try? DirectoryListing.names(records),
            let lockNames = snapshot.isSingleDirectory ? recordNames : try? DirectoryListing.names(locks)
        else {
            return false
        }
        var listedRecords = 0
        var cameRecords: [String] = []
        for entry in recordNames where !entry.isEscaped && DirectoryNames.isRecordName(entry.name) {
            if snapshot.records[entry.name] == nil { cameRecords.append(entry.name) } else { listedRecords += 1 }
        }
        var listedLocks = 0
        var cameLocks: [String] = []
        for entry in lockNames where !entry.isEscaped && DirectoryNames.isLockName(entry.name) {
            if snapshot.locks[entry.name] == nil { cameLocks.append(entry.name) } else { listedLocks += 1 }
        }
        var wentRecords: [String] = []
        if listedRecords != snapshot.records.count - snapshot.records.escapedCount {
            let listed = Set(recordNames.lazy.filter { !$0.isEscaped }.map(\.name))
            wentRecords = snapshot.records.filter { !$0.nameIsEscaped && !listed.contains($0.key) }.map(\.key)
        }
        var wentLocks: [String] = []
        if listedLocks != snapshot.locks.values.lazy.filter({ !$0.nameIsEscaped }).count {
            let listed = Set(lockNames.lazy.filter { !$0.isEscaped }.map(\.name))
            wentLocks = snapshot.locks.values.filter { !$0.nameIsEscaped && !listed.contains($0.name) }.map(\.name)
        }
        for key in cameRecords + wentRecords where snapshot.refreshRecord(named: key) { found.recordsRead.insert(key) }
        for name in cameLocks + wentLocks { found.noteLock(name) }
        recordCursor.update(came: cameRecords, went: wentRecords.count) {
            snapshot.records.filter { !$0.nameIsEscaped }.map(\.key)
        }
        lockCursor.update(came: cameLocks, went: wentLocks.count) {
            snapshot.locks.values.filter { !$0.nameIsEscaped }.map(\.name)
        }
        return true
    }
}
