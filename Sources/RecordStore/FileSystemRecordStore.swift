import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The Swift port of Prefect's `FileSystemRecordStore`: a record file named `<key>` and a lock file
/// named by `Path(key).with_suffix(".lock")` beside it, in the same JSON as Prefect 3.0 and 3.9.
///
/// Unlike Prefect it never shows a reader an empty lock file, never deletes a lock it did not just
/// judge, and waits on inotify rather than polling.
public final class FileSystemRecordStore: Sendable {
    /// The records directory, without a trailing slash: record files are `<key>` here.
    public let recordsDirectory: String
    /// The locks directory, without a trailing slash: the records directory in Prefect 3.0, often
    /// `$PREFECT_HOME/locks` for 3.1 to 3.9's `FileSystemLockManager`.
    public let locksDirectory: String
    /// How long an empty or garbled lock file counts as still being written.
    public let gracePeriod: TimeInterval
    /// How long an empty or garbled lock file counts as being written (Prefect's touch-then-write).
    public static let defaultGracePeriod: TimeInterval = 2
    /// How often a waiter checks again when inotify reports nothing (NFS and the like).
    public let fallbackPollInterval: TimeInterval
    /// The largest record file `read` returns.
    public static let maximumRecordSize = 64 * 1024 * 1024
    private let environment: StoreEnvironment
    /// The locks this store created and has not released, by lock file name, so that releasing one
    /// can be judged from its status alone.
    private let ownedLocks = Mutex<[String: OwnedLock]>([:])
    /// The two directories, each opened once, on first use (and made then when missing, as Prefect
    /// does): every later operation goes through these handles.
    private let recordsHandle = Mutex<DirectoryHandle?>(nil)
    private let locksHandle = Mutex<DirectoryHandle?>(nil)
    /// The directory watch every wait shares, made on the first wait.
    private let watch = Mutex<DirectoryWatch?>(nil)

    private struct OwnedLock {
        var holder: String
        var status: FileSystem.Status
        var acquiredAt: Date
        var guardian: ProcessIdentity?
    }

    /// Creates a store over `recordsDirectory`, with the real clock; its locks are in `locksDirectory`
    /// (by default beside the records, as in Prefect 3.0).
    public convenience init(recordsDirectory: URL, locksDirectory: URL? = nil) {
        self.init(recordsDirectory: recordsDirectory, locksDirectory: locksDirectory, environment: .live)
    }

    /// Creates a store with an injected environment and timings.
    public init(
        recordsDirectory: URL, locksDirectory: URL? = nil, environment: StoreEnvironment,
        gracePeriod: TimeInterval = defaultGracePeriod,
        fallbackPollInterval: TimeInterval = 1
    ) {
        self.recordsDirectory = Self.trimmed(recordsDirectory.path)
        self.locksDirectory = Self.trimmed((locksDirectory ?? recordsDirectory).path)
        self.environment = environment
        self.gracePeriod = gracePeriod
        self.fallbackPollInterval = fallbackPollInterval
    }

    private static func trimmed(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// The holder Prefect writes by default for the calling thread: `hostname:pid:thread_id:thread_name`.
    public static func defaultHolder() -> String {
        LockHolder.current().rawValue
    }

    /// The path of the record file for `key`.
    public func recordPath(forKey key: String) throws(RecordStoreError) -> String {
        try RecordKey.validate(key)
        return "\(recordsDirectory)/\(key)"
    }

    /// The path of the lock file for `key`, by the `with_suffix(".lock")` rule.
    public func lockPath(forKey key: String) throws(RecordStoreError) -> String {
        try "\(locksDirectory)/\(lockName(forKey: key))"
    }

    /// The name of the lock file for `key` in the locks directory.
    func lockName(forKey key: String) throws(RecordStoreError) -> String {
        try RecordKey.validate(key)
        return RecordKey.lockFileName(forKey: key)
    }

    /// The locks directory's handle, opened on first use; with `creating`, the directory is made
    /// first when missing.
    public func locks(creating: Bool = false) throws(RecordStoreError) -> DirectoryHandle {
        try Self.handle(locksHandle, path: locksDirectory, creating: creating)
    }

    /// The records directory's handle, opened on first use; with `creating`, made first when missing.
    func records(creating: Bool = false) throws(RecordStoreError) -> DirectoryHandle {
        try Self.handle(recordsHandle, path: recordsDirectory, creating: creating)
    }

    private static func handle(_ slot: borrowing Mutex<DirectoryHandle?>, path: String, creating: Bool)
        throws(RecordStoreError)
        -> DirectoryHandle
    {
        try slot.withLock { (current: inout DirectoryHandle?) throws(RecordStoreError) -> DirectoryHandle in
            if let current { return current }
            if creating { try FileSystem.createDirectory(path) }
            let opened = try DirectoryHandle.open(path)
            current = opened
            return opened
        }
    }

    /// Reads the lock file for `key`; `.absent` while the locks directory does not exist.
    public func observeLock(key: String) throws(RecordStoreError) -> LockObservation {
        let name = try lockName(forKey: key)
        let directory: DirectoryHandle
        do {
            directory = try locks()
        } catch .directoryMissing {
            return .absent
        }
        return try LockFiles.observe(name, in: directory, now: environment.now(), gracePeriod: gracePeriod)
    }

    // MARK: Records

    /// Reads the record for `key`, or nil when there is none. While another holder has the lock,
    /// waits for it to be released first.
    public func read(key: String, holder: String? = nil) throws -> TransactionRecord? {
        let path = try recordPath(forKey: key)
        guard exists(key: key) else { return nil }
        let holder = holder ?? Self.defaultHolder()
        if isLocked(key: key) && !isLockHolder(key: key, holder: holder) {
            _ = waitForLock(key: key)
        }
        let directory = try records()
        guard let status = try directory.status(of: key) else { return nil }
        if status.isSymbolicLink { throw RecordStoreError.symbolicLink(path: path) }
        guard let bytes = try directory.readFile(key, limit: Self.maximumRecordSize) else { return nil }
        return TransactionRecord(key: key, result: Data(bytes))
    }

    /// Writes the JSON `result` as the record for `key`, atomically: a temporary file is written,
    /// synced and renamed into place. Refused while another holder has the lock.
    public func write(key: String, result: Data, holder: String? = nil) throws {
        try RecordKey.validate(key)
        guard JSONValue.parse(result) != nil else { throw RecordStoreError.invalidRecordJSON(key: key) }
        let directory = try records(creating: true)
        let holder = holder ?? Self.defaultHolder()
        if isLocked(key: key) && !isLockHolder(key: key, holder: holder) {
            let current: String
            if case .readable(let snapshot) = try observeLock(key: key) {
                current = snapshot.content.holder
            } else {
                current = "an unreadable lock file"
            }
            throw RecordStoreError.lockedByAnotherHolder(key: key, holder: current)
        }
        try LockFiles.replace(key, in: directory, bytes: Array(result), sync: true)
    }

    /// Whether a record exists for `key`. An invalid key has no record.
    public func exists(key: String) -> Bool {
        guard (try? RecordKey.validate(key)) != nil, let directory = try? records() else { return false }
        return directory.contains(key)
    }

    // MARK: Locks

    /// Takes the lock for `key`. Returns false when `acquireTimeout` seconds pass first
    /// (nil waits forever, 0 tries once). Re-acquiring one's own lock renews it, as in Prefect.
    /// An expired lock is broken safely on the way. `holdTimeout` sets the expiration; `guardian` is named
    /// as the process that outlives this one until the lock's command group is gone (``LockFileContent/guardianProcessID``).
    public func acquireLock(
        key: String, holder: String? = nil, acquireTimeout: Double? = nil,
        holdTimeout: Double? = nil, guardian: ProcessIdentity? = nil
    ) throws -> Bool {
        let lockName = try lockName(forKey: key)
        let holder = holder ?? Self.defaultHolder()
        let deadline = acquireTimeout.map { MonotonicClock.seconds() + max(0, $0) }
        let name = Array(lockName.utf8)
        // Made after the first failed try: an uncontended lock costs no watch.
        var waiting: DirectoryWatch?
        while true {
            let now = environment.now()
            let content = self.content(holder: holder, holdTimeout: holdTimeout, acquiredAt: now, guardian: guardian)
            let directory = try locks(creating: true)
            if let status = try create(lockName, in: directory, bytes: content.encoded()) {
                remember(lockName, holder: holder, status: status, acquiredAt: now, guardian: guardian)
                return true
            }
            guard let watch = waiting else {
                waiting = try sharedWatch()
                continue
            }
            let mark = watch.mark(for: name)
            let observation = try LockFiles.observe(lockName, in: directory, now: now, gracePeriod: gracePeriod)
            switch observation {
            case .absent:
                continue
            case .readable(let snapshot) where snapshot.content.holder == holder:
                guard
                    let status = try LockFiles.rewrite(
                        lockName, in: directory, judged: snapshot.status, bytes: content.encoded())
                else { continue }
                remember(lockName, holder: holder, status: status, acquiredAt: now, guardian: guardian)
                return true
            case .readable(let snapshot) where snapshot.content.isExpired(at: now):
                try removeIgnoringRaces(
                    lockName, judged: snapshot.status, bytes: snapshot.bytes, key: key, removal: .expired)
                continue
            case .readable, .beingWritten, .unreadable:
                guard
                    waitForChange(
                        of: name, watch: watch, since: mark, observed: observation, at: now, deadline: deadline)
                else { return false }
            }
        }
    }

    /// Waits until the lock file `name` changes after `mark`, time alone changes what `observed`
    /// (seen at `now`) says (an expiration, the end of a write's grace period), or the fallback
    /// poll interval passes; false, without waiting, once `deadline` has passed. The one wait of
    /// ``acquireLock(key:holder:acquireTimeout:holdTimeout:)`` and ``waitForLock(key:timeout:)``.
    private func waitForChange(
        of name: [UInt8], watch: DirectoryWatch?, since mark: UInt64?, observed: LockObservation?, at now: Date,
        deadline: Double?
    ) -> Bool {
        var wakeAt: TimeInterval?
        switch observed {
        case .readable(let snapshot)?:
            wakeAt = snapshot.content.expiration.map { $0.timeIntervalSince(now) }
        case .beingWritten(let status, _)?:
            wakeAt = status.modified + gracePeriod - now.timeIntervalSince1970
        case .absent?, .unreadable?, nil:
            wakeAt = nil
        }
        let remaining = deadline.map { $0 - MonotonicClock.seconds() }
        if let remaining, remaining <= 0 { return false }
        let seconds = [remaining, wakeAt, fallbackPollInterval].compactMap { $0 }.min()
        if let watch, let mark {
            watch.wait(for: name, since: mark, seconds: seconds)
        } else {
            usleep(useconds_t(max(0.001, min(seconds ?? fallbackPollInterval, fallbackPollInterval)) * 1_000_000))
        }
        return true
    }

    /// The store's watch of its locks directory's handle, made on first use.
    private func sharedWatch() throws(RecordStoreError) -> DirectoryWatch {
        let directory = try locks()
        return try watch.withLock { (current: inout DirectoryWatch?) throws(RecordStoreError) -> DirectoryWatch in
            if let current { return current }
            let made = try DirectoryWatch(directory: directory)
            current = made
            return made
        }
    }

    /// Releases the lock for `key` if `holder` holds it. The file is removed only if it is still
    /// that holder's lock. Throws when there is no lock or someone else holds it.
    public func releaseLock(key: String, holder: String? = nil) throws {
        let lockName = try lockName(forKey: key)
        let holder = holder ?? Self.defaultHolder()
        let owned = ownedLocks.withLock { $0.removeValue(forKey: lockName) }
        // Our own lock was judged when we wrote it: take it aside and check it is still that file.
        // If someone replaced it meanwhile, it is put back and judged afresh below.
        if let owned, owned.holder == holder,
            try removeIgnoringRaces(lockName, judged: owned.status, bytes: nil, key: key)
        {
            return
        }
        switch try observeLock(key: key) {
        case .absent:
            throw RecordStoreError.noLock(key: key)
        case .readable(let snapshot) where snapshot.content.holder == holder:
            guard try LockFiles.remove(lockName, in: locks(), judged: snapshot.status, bytes: nil, key: key) else {
                throw RecordStoreError.noLock(key: key)
            }
        case .readable(let snapshot):
            throw RecordStoreError.notLockHolder(key: key, holder: holder, actualHolder: snapshot.content.holder)
        case .beingWritten, .unreadable:
            throw RecordStoreError.notLockHolder(key: key, holder: holder, actualHolder: "an unreadable lock file")
        }
    }

    /// Whether `key` is locked: a lock file exists and has not expired. A lock file that cannot
    /// be read counts as locked, since nothing proves it free.
    public func isLocked(key: String) -> Bool {
        do {
            switch try observeLock(key: key) {
            case .absent: return false
            case .readable(let snapshot): return !snapshot.content.isExpired(at: environment.now())
            case .beingWritten, .unreadable: return true
            }
        } catch .invalidKey {
            return false
        } catch {
            return true
        }
    }

    /// Whether `holder` holds an unexpired lock on `key`.
    public func isLockHolder(key: String, holder: String? = nil) -> Bool {
        guard case .readable(let snapshot)? = try? observeLock(key: key) else { return false }
        return snapshot.content.holder == (holder ?? Self.defaultHolder())
            && !snapshot.content.isExpired(at: environment.now())
    }

    /// Waits until `key` is not locked, for at most `timeout` seconds (nil waits forever).
    /// Wakes on inotify when the lock file goes, and at its expiration. Returns whether the key is free.
    public func waitForLock(key: String, timeout: Double? = nil) -> Bool {
        guard let lockName = try? lockName(forKey: key) else { return true }
        let deadline = timeout.map { MonotonicClock.seconds() + max(0, $0) }
        let name = Array(lockName.utf8)
        let watch = try? sharedWatch()
        while true {
            let mark = watch?.mark(for: name)
            let now = environment.now()
            let observation = try? observeLock(key: key)
            switch observation {
            case .absent?:
                return true
            case .readable(let snapshot)? where snapshot.content.isExpired(at: now):
                return true
            case .readable?, .beingWritten?, .unreadable?, nil:
                guard
                    waitForChange(
                        of: name, watch: watch, since: mark, observed: observation, at: now, deadline: deadline)
                else { return false }
            }
        }
    }

    /// Breaks the lock for `key` after judging it with `judge`, which sees the lock as it is now.
    /// The lock is taken aside, checked against what was judged, and put back if it changed.
    /// Returns what was removed, or nil when there was no lock.
    public func breakLock(key: String, judge: (LockObservation) throws -> Void) throws -> LockObservation? {
        let lockName = try lockName(forKey: key)
        let observation = try observeLock(key: key)
        guard let status = observation.status else { return nil }
        try judge(observation)
        guard
            try LockFiles.remove(
                lockName, in: locks(), judged: status, bytes: observation.bytes, key: key, removal: .operatorBreak)
        else {
            return nil
        }
        return observation
    }

    /// The lock file content this store writes for `holder`: this process, and `guardian` when given.
    private func content(holder: String, holdTimeout: Double?, acquiredAt: Date, guardian: ProcessIdentity?)
        -> LockFileContent
    {
        var content = LockFileContent(
            holder: holder, expiration: holdTimeout.map { environment.now().addingTimeInterval($0) },
            hostName: environment.process.hostName, processID: environment.process.processID,
            processStartTicks: environment.process.startTicks, acquiredAt: acquiredAt)
        content.guardianProcessID = guardian?.processID
        content.guardianStartTicks = guardian?.startTicks
        return content
    }

    private func remember(
        _ lockName: String, holder: String, status: FileSystem.Status, acquiredAt: Date,
        guardian: ProcessIdentity? = nil
    ) {
        ownedLocks.withLock {
            $0[lockName] = OwnedLock(holder: holder, status: status, acquiredAt: acquiredAt, guardian: guardian)
        }
    }

    /// Renews `holder`'s lock on `key`, taken through this store, to expire `holdTimeout` seconds
    /// from now (nil: never), by ``LockFiles/rewrite(path:judged:bytes:)``: the lock file never
    /// goes missing. Returns false, touching nothing, when the lock file is no longer the one this
    /// store wrote: the lock was broken, and perhaps taken by someone else.
    public func renewLock(key: String, holder: String? = nil, holdTimeout: Double?) throws(RecordStoreError) -> Bool {
        let lockName = try lockName(forKey: key)
        let holder = holder ?? Self.defaultHolder()
        guard let owned = ownedLocks.withLock({ $0[lockName] }), owned.holder == holder else { return false }
        let content = self.content(
            holder: holder, holdTimeout: holdTimeout, acquiredAt: owned.acquiredAt, guardian: owned.guardian)
        guard
            let status = try LockFiles.rewrite(lockName, in: locks(), judged: owned.status, bytes: content.encoded())
        else {
            ownedLocks.withLock { $0[lockName] = nil }
            return false
        }
        remember(lockName, holder: holder, status: status, acquiredAt: owned.acquiredAt, guardian: owned.guardian)
        return true
    }

    /// Whether the lock file of `key` is still the very file this store wrote for `holder`.
    public func holdsLockFile(key: String, holder: String? = nil) -> Bool {
        guard let lockName = try? lockName(forKey: key), let owned = ownedLocks.withLock({ $0[lockName] }),
            owned.holder == (holder ?? Self.defaultHolder()), let current = (try? locks().status(of: lockName)) ?? nil
        else { return false }
        return current.hasSameContent(as: owned.status)
    }

    /// Creates the lock file in the directory opened. When that directory was removed or replaced
    /// since, no lock is made anywhere else: the replacement is thrown.
    private func create(_ lockName: String, in directory: DirectoryHandle, bytes: [UInt8]) throws(RecordStoreError)
        -> FileSystem.Status?
    {
        do {
            return try LockFiles.create(lockName, in: directory, bytes: bytes)
        } catch {
            // A removed directory takes no new file (ENOENT, or EACCES for O_TMPFILE): say why.
            if let replacement = directory.replacement() { throw .directoryReplaced(replacement) }
            throw error
        }
    }

    /// Removes the judged lock file; returns false when it was gone, or had changed and was put back.
    @discardableResult
    private func removeIgnoringRaces(
        _ lockName: String, judged: FileSystem.Status, bytes: [UInt8]?, key: String,
        removal: LockFiles.Removal = .release
    ) throws -> Bool {
        do {
            return try LockFiles.remove(
                lockName, in: locks(), judged: judged, bytes: bytes, key: key, removal: removal)
        } catch .lockChanged {
            return false
        }
    }
}
