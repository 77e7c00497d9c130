import Foundation
import RecordStore

/// Who created each lock file and who keeps reading it, learned from the closes fanotify reports:
/// pure bookkeeping, fed by the monitor and tested on values.
public struct IdentityLedger: Sendable {
    /// A process that keeps reading a lock it does not hold: Prefect's waiters read it ten times a second.
    public struct Waiter: Equatable, Sendable {
        public var process: ProcessDetails
        /// Its first read.
        public var since: Date
        /// Its latest read.
        public var lastSeen: Date
        public var reads: Int
        /// Whether it is the lock's holder, reading its own lock as a waiter would: a nested
        /// transaction on the same key, or another thread of the holder's process.
        public var holdsTheLock = false

        public init(process: ProcessDetails, since: Date, lastSeen: Date, reads: Int, holdsTheLock: Bool = false) {
            self.process = process
            self.since = since
            self.lastSeen = lastSeen
            self.reads = reads
            self.holdsTheLock = holdsTheLock
        }

        /// Whether its reads make it a waiter: ``IdentityLedger/readsToWait`` of them; for the
        /// holder, which reads its own lock now and then (Prefect checks it before a commit),
        /// ``IdentityLedger/holderReadsToWait`` over ``IdentityLedger/holderWaitSpan`` at least.
        public var isWaiting: Bool {
            holdsTheLock
                ? reads >= IdentityLedger.holderReadsToWait
                    && lastSeen.timeIntervalSince(since) >= IdentityLedger.holderWaitSpan
                : reads >= IdentityLedger.readsToWait
        }
    }

    /// A wait that ended: the waiter took the lock (it wrote the lock file) or stopped reading it.
    public struct EndedWait: Equatable, Sendable {
        public var lockName: String
        public var waiter: Waiter
        /// When it ended: the write that took the lock, or the waiter's last read.
        public var end: Date
        public var tookLock: Bool

        /// How long it waited, from its first read.
        public var seconds: TimeInterval { max(0, end.timeIntervalSince(waiter.since)) }
    }

    /// A waiter is gone after this long without a read, or when its process ends.
    public static let waiterTimeout: TimeInterval = 2
    /// Reads it takes to count as waiting, so that a one-off reader (`cat`, `locktop list`) is not a waiter.
    public static let readsToWait = 2
    /// Reads, and the time they span, it takes the lock's own holder to count as waiting for it.
    public static let holderReadsToWait = 5
    public static let holderWaitSpan: TimeInterval = 1

    /// The process that last wrote each lock file, by file.
    public private(set) var creators: [FileKey: ProcessDetails] = [:]
    /// Each file's status at the write that made its creator, so that a write-open that changed nothing credits no one.
    private var credited: [FileKey: FileSystem.Status] = [:]
    private var readers: [String: [Int32: Waiter]] = [:]
    /// The waits ended since ``takeEndedWaits()`` was last called.
    private var endedWaits: [EndedWait] = []

    public init() {}

    /// The waits that ended since the last call, oldest first.
    public mutating func takeEndedWaits() -> [EndedWait] {
        defer { endedWaits = [] }
        return endedWaits
    }

    /// Records one close of the lock file `lockName`, whose file is now `current`. A write makes its
    /// process the file's creator; a read by anyone else counts towards waiting. `describe` is asked
    /// about a process only when it is new. Returns the waiter this close made.
    public mutating func record(
        _ close: FileClose, lockName: String, current: FileKey?, written: FileSystem.Status? = nil, at now: Date,
        describe: (Int32) -> ProcessDetails?
    ) -> Waiter? {
        if close.wrote {
            // A waiter that writes the lock file has taken it, if the file it wrote is the lock file now.
            if let waiter = readers[lockName]?.removeValue(forKey: close.processID), waiter.isWaiting {
                let tookLock = written.map { FileKey($0) == close.file } ?? false
                endedWaits.append(EndedWait(lockName: lockName, waiter: waiter, end: now, tookLock: tookLock))
            }
            // `written` is the lock file read after the close. Opening it for writing is not writing
            // it: a close credits its process only when the file is new or changed since the last
            // credited write, and only when the writer could have written it as its own.
            guard let written, FileKey(written) == close.file else { return nil }
            if creators[close.file]?.processID == close.processID {
                credited[close.file] = written
                return nil
            }
            if let last = credited[close.file], last.hasSameContent(as: written) { return nil }
            guard let process = describe(close.processID), Self.mayOwn(written, writtenBy: process) else { return nil }
            creators[close.file] = process
            credited[close.file] = written
            return nil
        }
        guard let current else { return nil }
        let isHolder = creators[current]?.processID == close.processID
        if var waiter = readers[lockName]?[close.processID], waiter.holdsTheLock == isHolder {
            let wasWaiting = waiter.isWaiting
            waiter.reads += 1
            waiter.lastSeen = now
            readers[lockName]?[close.processID] = waiter
            return waiter.isWaiting && !wasWaiting ? waiter : nil
        }
        // Another locktop watching or breaking reads the file to judge it: it waits for nothing.
        guard let process = isHolder ? creators[current] : describe(close.processID), !process.isLocktopObserver
        else { return nil }
        readers[lockName, default: [:]][close.processID] = Waiter(
            process: process, since: now, lastSeen: now, reads: 1, holdsTheLock: isHolder)
        return nil
    }

    /// Whether `process`'s write of the file with `status` makes it the file's creator: its uid
    /// owns the file, or is root. A process that had exited has no uid left to read: only when
    /// nobody but the owner or root may write the file.
    static func mayOwn(_ status: FileSystem.Status, writtenBy process: ProcessDetails) -> Bool {
        if process.exitedBeforeSeen { return onlyItsOwnerMayWrite(status) }
        guard let uid = process.uid else { return false }
        return uid == status.owner || uid == 0
    }

    /// Whether only the owner of the file with `status`, or root, may open it for writing: no
    /// write bit for its group or others (with an ACL, the group bits are its mask).
    static func onlyItsOwnerMayWrite(_ status: FileSystem.Status) -> Bool {
        status.isRegularFile && status.mode & 0o022 == 0
    }

    /// Ends `processID`'s wait on `lockName` as having taken the lock at `now`, because the lock
    /// file, owned by uid `owner`, names it: a claim that counts only when the owner could make it
    /// (the waiter runs as the owner, or the owner is root). For a taker whose write fanotify saw
    /// on another file: `locktop lock` links its own temp file into place. Returns whether it did.
    @discardableResult
    public mutating func endWait(of processID: Int32, on lockName: String, ownedBy owner: UInt32, at now: Date) -> Bool
    {
        guard let waiter = readers[lockName]?[processID], waiter.isWaiting, !waiter.holdsTheLock,
            owner == 0 || waiter.process.uid == owner
        else { return false }
        readers[lockName]?[processID] = nil
        if readers[lockName]?.isEmpty == true { readers[lockName] = nil }
        endedWaits.append(EndedWait(lockName: lockName, waiter: waiter, end: now, tookLock: true))
        return true
    }

    /// The process that created `file`, when it was seen.
    public func creator(of file: FileKey) -> ProcessDetails? {
        creators[file]
    }

    /// Whether any process has been seen reading `lockName` lately: a cheap test before ``waiters(of:)``.
    public func hasReaders(of lockName: String) -> Bool {
        readers[lockName] != nil
    }

    /// The lock names some process has been reading lately.
    public var lockNamesWithReaders: Dictionary<String, [Int32: Waiter]>.Keys {
        readers.keys
    }

    /// The processes waiting on `lockName`, longest first: its holder too, when it keeps reading it.
    public func waiters(of lockName: String) -> [Waiter] {
        (readers[lockName] ?? [:]).values.filter(\.isWaiting).sorted { $0.since < $1.since }
    }

    /// Forgets readers silent for ``waiterTimeout`` or whose process ended, their waits ended at
    /// their last read; returns the lock names whose waiters changed.
    public mutating func expireWaiters(at now: Date, isRunning: (Int32) -> Bool) -> Set<String> {
        var changed: Set<String> = []
        for (name, waiters) in readers {
            let kept = waiters.filter {
                now.timeIntervalSince($0.value.lastSeen) < Self.waiterTimeout && isRunning($0.key)
            }
            if kept.count != waiters.count {
                let gone = waiters.values.filter { $0.isWaiting && kept[$0.process.processID] == nil }
                if !gone.isEmpty { changed.insert(name) }
                for waiter in gone.sorted(by: { $0.lastSeen < $1.lastSeen }) {
                    endedWaits.append(EndedWait(lockName: name, waiter: waiter, end: waiter.lastSeen, tookLock: false))
                }
                readers[name] = kept.isEmpty ? nil : kept
            }
        }
        return changed
    }

    /// Learns the creator of `file` from elsewhere (the identity file of an earlier run).
    public mutating func learn(_ process: ProcessDetails, for file: FileKey) {
        creators[file] = process
    }

    /// Notes that `file`'s creator was seen alive at `now`.
    public mutating func creatorSeenAlive(_ file: FileKey, at now: Date) {
        creators[file]?.lastSeenAlive = now
    }

    /// Forgets the creators of files that are no longer lock files.
    public mutating func keepCreators(of files: Set<FileKey>) {
        creators = creators.filter { files.contains($0.key) }
        credited = credited.filter { files.contains($0.key) }
    }
}
