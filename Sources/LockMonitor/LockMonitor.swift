import CLocktopSystem
import Foundation
import RecordStore

/// Watches a records directory (and a locks directory) and keeps a live, classified model of it.
///
/// Three parts: a watch source (``InotifySource``, or ``PollingScanner`` where inotify cannot see
/// other machines) says which names changed; the monitor re-reads those names and judges them;
/// the ``TransitionLedger`` turns what changed into events and statistics. With inotify, one change
/// costs the same in a directory of ten files or of a hundred thousand; a queue overflow rescans.
/// The monitor is single-threaded: ``MonitorLoop`` calls ``processChanges()`` when a descriptor
/// is readable and ``tick()`` about once a second.
public final class LockMonitor: LockEvidenceSource {
    /// What to watch and how to judge it.
    public struct Configuration: Sendable {
        public var recordsDirectory: String
        public var locksDirectory: String
        /// How each lock is judged: the stale age, the grace period, when waiters are blocked.
        public var classifier: LockClassifier
        /// Poll at this interval instead of using inotify (`--poll`).
        public var forcedPollInterval: TimeInterval?
        /// The interval used when the filesystem is remote and inotify cannot see other machines.
        public var remotePollInterval: TimeInterval
        /// The audit log whose lines tell a break from a release; nil reads none. The identity file
        /// (who created which lock, learned by fanotify) is kept beside it.
        public var auditLog: AuditLog?
        /// Whether to watch with fanotify who opens the lock files (when the privilege allows).
        public var watchesProcesses: Bool
        /// Whether breaks may act where another uid may rename or replace the locks directory.
        public var allowsUntrustedParent: Bool

        /// Creates a configuration; the locks directory defaults to the records directory.
        public init(
            recordsDirectory: String, locksDirectory: String? = nil, classifier: LockClassifier = LockClassifier(),
            forcedPollInterval: TimeInterval? = nil, remotePollInterval: TimeInterval = 2,
            auditLog: AuditLog? = nil, watchesProcesses: Bool = true, allowsUntrustedParent: Bool = false
        ) {
            self.recordsDirectory = Self.normalized(recordsDirectory)
            self.locksDirectory = Self.normalized(locksDirectory ?? recordsDirectory)
            self.classifier = classifier
            self.forcedPollInterval = forcedPollInterval
            self.remotePollInterval = remotePollInterval
            self.auditLog = auditLog
            self.watchesProcesses = watchesProcesses
            self.allowsUntrustedParent = allowsUntrustedParent
        }

        static func normalized(_ path: String) -> String {
            var path = path
            while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
            return path
        }
    }

    /// The configuration.
    public let configuration: Configuration
    /// Clock, host and process table.
    public let environment: MonitorEnvironment
    /// Judges each lock.
    public let classifier: LockClassifier
    /// The current model.
    public private(set) var snapshot: DirectorySnapshot
    /// Each lock's one verdict, schedule, transitions and statistics, and the names changed since a view looked.
    public private(set) var tracker: LockTracker
    /// inotify or polling.
    public private(set) var watchMode: WatchMode
    /// Watched directories that do not exist right now.
    public private(set) var missingDirectories: [String] = []
    /// Each watched directory's handle, by path, opened once when it is there: every read and
    /// break inside it goes through the handle, never through the path.
    private var handles: [String: DirectoryHandle] = [:]
    /// The device and inode of each directory as first opened: the one the operator named.
    private var namedKeys: [String: FileKey] = [:]
    /// The handle of each lost directory, kept open until a directory is there again: a removed
    /// directory's inode number cannot be reused while it is open, so a new one is told apart.
    private var lostHandles: [String: DirectoryHandle] = [:]
    /// The directories whose path led elsewhere since they were first opened. Breaks are refused
    /// in such a directory until locktop is started again.
    public private(set) var replacements: [String: DirectoryReplacement] = [:]
    /// How many full scans have run, for tests and benchmarks.
    public private(set) var scanCount = 0
    /// Builds the table of the records listed at start, behind the first screen; nil once it is in.
    private var recordLoader: RecordTableLoader?
    /// Records a watch event touched while the loader worked, re-read once its table is in.
    private var recordsTouchedWhileLoading: Set<String> = []

    /// Whether the records listed at start are still being read.
    public var isLoadingRecords: Bool { recordLoader != nil }
    /// How many records there are (while they are being read, how many were listed).
    public var recordCount: Int { recordLoader?.count ?? snapshot.records.count }
    /// How many times ticks judged a lock again, for tests and benchmarks: what is due, not what is there.
    public private(set) var judgementCount = 0

    private var inotify: InotifySource?
    /// Reads of lock files the monitor made itself, not yet seen as events: they are no waiter's.
    private var ownReads: [String: Int] = [:]
    private var lastScan: Date
    private var auditTail: AuditTail?
    /// Locks taken aside by a locktop release or break, judged once their aside goes.
    private var asides = AsideTracker()
    /// How each lock whose aside just went was removed; read by the transition in the same pass.
    private var resolvedRemovals: [String: TransitionLedger.Removal] = [:]
    /// Events found outside a watch pass (a break in polling mode), handed out by the next ``tick()``.
    private var queuedEvents: [MonitorEvent] = []
    private var scanner: PollingScanner?
    private var fanotify: FanotifyWatch?
    /// Why processes are not identified, said once: no privilege for fanotify, for example.
    public private(set) var identityNotice: String?
    /// Why breaks are refused here: the locks directory was replaced, or another uid may rename or replace it.
    public var trustNotice: String? {
        if let replacement = replacements[configuration.locksDirectory] {
            return "warning: \(replacement); breaks are refused there until locktop is started again"
        }
        return untrustedNotice
    }
    /// Why breaks are refused here, found at start: another uid may rename or replace the locks directory.
    private var untrustedNotice: String?
    /// Who created which lock file, and who waits on which, from fanotify.
    public private(set) var ledger = IdentityLedger()
    /// The deadlocks among the locks, as the wait-for graph of their holders and waiters shows
    /// them at the last tick (fanotify only: without it no waiter is known).
    public private(set) var deadlocks: [WaitForGraph.Deadlock] = []
    private let identityFile: IdentityFile?
    private var identityDirty = false
    /// Whether a holder learned (or its file rewritten) is not in the identity file yet: written at
    /// once, since `list` and `break` judge by it. Waiters alone are written at most every ``identitySaveInterval``.
    private var holderUnpublished = false
    private var lastIdentitySave = Date.distantPast
    static let identitySaveInterval: TimeInterval = 0.1
    /// The locks directory's path as the kernel names it (fanotify reports such paths).
    private var canonicalLocksDirectory: String
    /// The locks directory by device and inode, which an audit line must name to explain a removal here.
    private var locksDirectoryKey: FileKey? { handles[configuration.locksDirectory]?.key }
    /// Locks whose creator fanotify saw: judged every tick, so a dead holder shows within a second or two.
    private var creatorWatched: Set<String> = []
    /// Locks read by other processes since the last sweep, and the poll rates last reported, so that
    /// a row's poll pressure is refreshed as it rises and decays.
    private var polledLocks: Set<String> = []
    private var reportedPollRates: [String: Double] = [:]
    /// The locks someone is looking at (the detail pane, a dialog): judged every tick, so their reasons move.
    public var closelyWatched: Set<String> = []
    /// Other hosts' agents' reports and the helpers' heartbeats, refreshed every tick.
    private var remote: RemoteEvidence?
    /// The locks directory the remote evidence reads, to notice it coming back.
    private var remoteDirectory: FileKey?

    /// The descriptor to poll for changes, nil when polling.
    public var fileDescriptor: Int32? { inotify?.fileDescriptor }

    /// Starts watching. A directory that does not exist yet is waited for, as one that disappears
    /// while watched is; one that is not a directory or is unreadable throws a clear error.
    public init(configuration: Configuration, environment: MonitorEnvironment = .live) throws(RecordStoreError) {
        self.configuration = configuration
        self.environment = environment
        classifier = configuration.classifier
        tracker = LockTracker(judge: configuration.classifier, environment: environment)
        auditTail = configuration.auditLog.map(AuditTail.init)
        identityFile = configuration.auditLog.map(IdentityFile.init(besides:))
        canonicalLocksDirectory = configuration.locksDirectory
        if !configuration.allowsUntrustedParent,
            let reason = DirectoryTrust.untrustedReason(configuration.locksDirectory)
        {
            untrustedNotice = "warning: \(reason); breaks are refused here without --allow-untrusted-parent"
        }
        var missing: [String] = []
        for directory in Set([configuration.recordsDirectory, configuration.locksDirectory]).sorted() {
            do {
                let handle = try DirectoryHandle.open(directory)
                handles[directory] = handle
                namedKeys[directory] = handle.key
            } catch .directoryMissing {
                missing.append(directory)
            }
        }
        snapshot = Self.emptySnapshot(configuration, handles)
        lastScan = environment.now()
        if let interval = configuration.forcedPollInterval {
            watchMode = .polling(interval: interval)
        } else if WatchMode.remoteFilesystemType(of: configuration.recordsDirectory) != nil
            || WatchMode.remoteFilesystemType(of: configuration.locksDirectory) != nil
        {
            watchMode = .polling(interval: configuration.remotePollInterval)
        } else {
            watchMode = .inotify
        }
        if watchMode == .inotify {
            inotify = try InotifySource()
            for directory in directories where !missing.contains(directory) {
                try addWatch(directory, watchingOpens: false)
            }
        }
        if !missing.isEmpty {
            // Nothing to read until every directory is there; ticks look for them (`retryMissingDirectories`).
            missingDirectories = missing
            queuedEvents = missing.map {
                MonitorEvent(
                    time: environment.now(), kind: .directoryMissing, key: $0,
                    detail: "\($0) does not exist; waiting for it")
            }
        } else if watchMode == .inotify {
            // The locks are ready once the names are listed; a million records are indexed and
            // statted behind the first screen.
            let (scanned, listing) = try DirectorySnapshot.scanLocks(
                records: snapshot.recordsHandle!, locks: snapshot.locksHandle!)
            snapshot = scanned
            recordLoader = RecordTableLoader(listing)
        } else {
            // On a remote filesystem a stat is a round trip: the records' statuses come with the
            // poll's budgeted slices, so the idle dashboard stays idle.
            snapshot = try DirectorySnapshot.scan(
                records: snapshot.recordsHandle!, locks: snapshot.locksHandle!, pendingRecords: true)
        }
        if missing.isEmpty { scanCount += 1 }
        // The scan's listing of every name is gone; give its pages back, so what stays resident is the model.
        locktop_release_free_memory()
        for directory in directories where !missing.contains(directory) { try addWatch(directory, watchingOpens: true) }
        let now = environment.now()
        startIdentity()
        for lock in snapshot.locks.values { tracker.seed(lock, evidence: fanotifyEvidence(of: lock), at: now) }
        if case .polling = watchMode { scanner = PollingScanner(snapshot, at: now) }
    }

    /// An empty snapshot over the directories' handles, or of the paths alone while one is missing.
    private static func emptySnapshot(_ configuration: Configuration, _ handles: [String: DirectoryHandle])
        -> DirectorySnapshot
    {
        if let records = handles[configuration.recordsDirectory], let locks = handles[configuration.locksDirectory] {
            return DirectorySnapshot(records: records, locks: locks)
        }
        return DirectorySnapshot(
            recordsDirectory: configuration.recordsDirectory, locksDirectory: configuration.locksDirectory)
    }

    /// Starts fanotify when allowed, and takes back what an earlier run learned.
    private func startIdentity() {
        if let known = identityFile?.load(), !known.isEmpty {
            for lock in snapshot.locks.values {
                if let process = known[IdentityFile.Key(lock.status)]?.creator {
                    ledger.learn(process, for: FileKey(lock.status))
                    creatorWatched.insert(lock.name)
                }
            }
        }
        watchOpens()
    }

    /// Marks the locks directory for fanotify, when allowed: at start, and again when the directory
    /// comes back (a mark is on the directory's inode, and a new directory has a new one). A
    /// directory that does not exist yet is marked once it does.
    private func watchOpens() {
        guard configuration.watchesProcesses, let locks = handles[configuration.locksDirectory] else { return }
        canonicalLocksDirectory = FanotifyWatch.path(of: locks.descriptor.rawValue) ?? configuration.locksDirectory
        do {
            if let fanotify {
                try fanotify.add(directory: locks)
            } else {
                fanotify = try FanotifyWatch(directory: locks)
            }
        } catch .permissionDenied {
            identityNotice = "identity: fanotify needs root; run with sudo or install the Prefect helper"
        } catch {
            identityNotice =
                "identity: fanotify is unavailable (\(error)); holders are judged from the lock files alone"
        }
    }

    /// The fanotify descriptor to poll beside ``fileDescriptor``, nil without the privilege.
    public var identityDescriptor: Int32? { fanotify?.fileDescriptor }

    /// The holder's process of `lock` (the one fanotify saw create it, else, when `lookingUpNamedProcess`,
    /// the one the lock names, read from `/proc`) and the processes waiting on it, as far as known.
    public func identity(of lock: LockEntry, lookingUpNamedProcess: Bool = true) -> LockIdentity {
        LockIdentity(
            of: lock, creator: ledger.creator(of: FileKey(lock.status)), waiters: ledger.waiters(of: lock.name),
            hostName: environment.hostName, lookingUpNamedProcess: lookingUpNamedProcess,
            reportedHolder: remote?.reportedHolder(of: lock))
    }

    /// The local process the holder of the lock file `name` names (or fanotify saw create it), read from `/proc`.
    public func holderProcess(ofLock name: String) -> ProcessDetails? {
        snapshot.locks[name].flatMap { identity(of: $0).holderProcess }
    }

    /// A one-line summary of the record `key`, read from its file; nil when it cannot be read.
    public func recordSummary(ofRecord key: String) -> String? {
        guard DirectoryNames.isRecordName(key), (try? RecordKey.validate(key)) != nil else { return nil }
        return snapshot.recordsHandle.flatMap { RecordSummary.load(key, in: $0) }?.text
    }

    /// Whether waiters are counted exactly (fanotify) rather than estimated from poll pressure.
    public var countsWaiters: Bool { fanotify != nil }

    private var directories: [String] {
        snapshot.isSingleDirectory
            ? [configuration.recordsDirectory] : [configuration.recordsDirectory, configuration.locksDirectory]
    }

    /// Watches `directory` through its handle with inotify, when watching so; see ``InotifySource/watch(_:watchingOpens:)``.
    private func addWatch(_ directory: String, watchingOpens: Bool) throws(RecordStoreError) {
        guard let handle = handles[directory] else { return }
        try inotify?.watch(handle, watchingOpens: watchingOpens)
    }

    /// The verdict of `lock`, as the tracker last judged it (every surface reads this one); a lock
    /// the model does not hold yet is judged now.
    public func classification(of lock: LockEntry) -> LockClassification {
        if let verdict = tracker.verdict(of: lock.name), snapshot.locks[lock.name]?.observation == lock.observation {
            return verdict
        }
        return tracker.classify(lock, evidence: fanotifyEvidence(of: lock), at: environment.now())
    }

    /// What the watch knows of `lock` beyond its file: its creator and waiters (fanotify), its usual
    /// hold and whether it is polled (its transitions and reads).
    public func evidence(of lock: LockEntry, at now: Date) -> LockEvidence {
        tracker.evidence(of: lock, fanotifyEvidence(of: lock), at: now)
    }

    /// What fanotify saw of `lock`: its creator and its waiters. The tracker adds the history.
    private func fanotifyEvidence(of lock: LockEntry) -> LockEvidence {
        var evidence = LockEvidence(
            creator: ledger.creator(of: FileKey(lock.status)),
            waiters: ledger.hasReaders(of: lock.name) ? ledger.waiters(of: lock.name) : [])
        if let remote {
            (evidence.testimonies, evidence.reportedHolder) = remote.evidence(of: lock)
        }
        return evidence
    }

    /// Reads the other hosts' reports and the heartbeats again (opening them on the locks directory
    /// as it is now), and returns the locks they speak of, to be judged again.
    private func refreshRemoteEvidence() -> [String] {
        guard let locks = handles[configuration.locksDirectory] else {
            remote = nil
            return []
        }
        if remote == nil || remoteDirectory != locks.key {
            remote = RemoteEvidence(locksDirectory: locks, environment: environment)
            remoteDirectory = locks.key
        } else {
            remote?.refresh()
        }
        guard let remote else { return [] }
        return snapshot.locks.values.filter { remote.speaksOf($0) }.map(\.name)
    }

    /// The contention statistics of the lock file `name`.
    public func statistics(forLock name: String) -> ContentionStatistics {
        tracker.statistics(forLock: name)
    }

    // MARK: Changes

    /// Reads pending inotify and fanotify events and applies them, returning what happened.
    public func processChanges() -> [MonitorEvent] {
        let identityEvents = processCloses()
        guard let inotify else {
            saveIdentitiesIfDirty(throttled: true)
            return identityEvents
        }
        settleLoadedRecords()
        let found = inotify.readChanges(
            recordsDirectory: configuration.recordsDirectory, locksDirectory: configuration.locksDirectory)
        // A directory held open is not reported deleted (IN_DELETE_SELF) until the handle closes,
        // and a parent swapped is not reported at all: each wake-up checks the paths, one `lstat` each.
        let events = identityEvents + apply(found, at: environment.now()) + loseReplacedDirectories()
        // `list` and `break` judge with what is published: a new holder is published as it is learned, not a tick later.
        saveIdentitiesIfDirty(throttled: true)
        return namingRecords(namingTakers(events))
    }

    /// Each `acquired` event with the process fanotify saw take the lock, when it has by then, and
    /// how long that process waited, when a `waited` event among `events` says so.
    private func namingTakers(_ events: [MonitorEvent]) -> [MonitorEvent] {
        guard fanotify != nil else { return events }
        var events = events
        var claimed: [String: Int32] = [:]
        for event in events where event.kind == .acquired {
            // A taker fanotify saw write another file (`locktop lock` links its temp file into
            // place) ends its wait through the lock's own claim, where the file's owner could make it.
            guard let lock = snapshot.locks[event.key + RecordKey.lockSuffix],
                ledger.creator(of: FileKey(lock.status)) == nil, let named = lock.content?.namedProcess,
                let pid = named.processID, named.hostName == nil || named.hostName == environment.hostName,
                ledger.endWait(of: pid, on: lock.name, ownedBy: lock.status.owner, at: event.time)
            else { continue }
            claimed[event.key] = pid
        }
        if !claimed.isEmpty { events += endedWaitEvents() }
        var waits: [String: MonitorEvent] = [:]
        for event in events where event.kind == .waited && event.tookLock == true { waits[event.key] = event }
        return events.map { event in
            guard event.kind == .acquired, let lock = snapshot.locks[event.key + RecordKey.lockSuffix],
                let takerID = ledger.creator(of: FileKey(lock.status))?.processID ?? claimed[event.key]
            else { return event }
            var named = event
            named.processID = takerID
            named.hostName = environment.hostName
            if let wait = waits[event.key], wait.processID == takerID {
                named.waitedSeconds = wait.waitedSeconds
            }
            return named
        }
    }

    /// Applies what a watch source found, the same way for inotify and for a poll: re-reads the
    /// changed names, and returns the events of their transitions.
    private func apply(_ found: DirectoryChanges, at now: Date) -> [MonitorEvent] {
        var events: [MonitorEvent] = []
        for directory in found.lostDirectories { events += loseDirectory(directory) }
        if found.overflowed {
            events.append(
                MonitorEvent(
                    time: now, kind: .rescanned, key: configuration.recordsDirectory,
                    detail: "the inotify queue overflowed"))
            return events + rescan()
        }
        guard found.lostDirectories.isEmpty else { return events }
        for name in found.lockReads { recordRead(of: name, at: now) }
        if isLoadingRecords {
            recordsTouchedWhileLoading.formUnion(found.recordsToRead)
        } else {
            tracker.noteChanged(records: found.recordsToRead.filter { snapshot.refreshRecord(named: $0) })
        }
        tracker.noteChanged(records: found.recordsRead)
        for arrival in found.asidesArrived { asides.arrive(arrival.aside, lockName: arrival.lockName, at: now) }
        var locks = found
        for aside in found.asidesGone {
            if let name = resolveAside(aside) { locks.noteLock(name) }
        }
        for name in locks.locks {
            if let raw = found.rawNames[name] {
                events += refreshEscapedLock(named: name, raw: raw)
            } else {
                events += refreshLock(named: name)
            }
        }
        resolvedRemovals = [:]
        return events
    }

    /// Feeds fanotify's closes of lock files to the ledger: creators, and waiters as they appear.
    private func processCloses() -> [MonitorEvent] {
        guard let fanotify else { return [] }
        var events: [MonitorEvent] = []
        let now = environment.now()
        for close in fanotify.readCloses()
        where close.directory == canonicalLocksDirectory && DirectoryNames.isLockName(close.name) {
            guard let locks = snapshot.locksHandle else { continue }
            // A write is judged by what the file is now; a read only needs which file it is.
            let written = close.wrote ? ((try? locks.status(of: close.name)) ?? nil) : nil
            let current =
                written.map(FileKey.init) ?? snapshot.locks[close.name].map { FileKey($0.status) }
                ?? LockEntry.read(close.name, in: locks).map { FileKey($0.status) }
            let before = ledger.creator(of: close.file)?.processID
            let waiter = ledger.record(close, lockName: close.name, current: current, written: written, at: now) {
                pid in
                // A process that had exited is no waiter; as a writer it is known by its pid alone.
                guard close.processExited else { return ProcessDetails.inspect(pid, hostName: environment.hostName) }
                return close.wrote ? .exited(pid, hostName: environment.hostName) : nil
            }
            if close.wrote, ledger.creator(of: close.file)?.processID != before {
                identityDirty = true
                holderUnpublished = true
                tracker.noteChanged(lock: close.name)
                creatorWatched.insert(close.name)
            }
            if let waiter {
                identityDirty = true
                tracker.noteChanged(lock: close.name)
                events.append(
                    MonitorEvent(
                        time: now, kind: .waiting, key: RecordKey.shownKey(ofLockName: close.name),
                        holder: snapshot.locks[close.name]?.content?.holder,
                        detail: "pid \(waiter.process.summary) is waiting",
                        processID: waiter.process.processID, hostName: waiter.process.hostName))
            }
        }
        return events + endedWaitEvents()
    }

    /// The `waited` events of the waits the ledger saw end.
    private func endedWaitEvents() -> [MonitorEvent] {
        ledger.takeEndedWaits().map { wait in
            tracker.recordWait(of: wait.lockName, from: wait.waiter.since, to: wait.end)
            let waited = DurationText.format(wait.seconds)
            // Dated when the wait ended (a waiter that stopped reading is found silent later).
            var event = MonitorEvent(
                time: wait.end, kind: .waited, key: RecordKey.shownKey(ofLockName: wait.lockName),
                holder: snapshot.locks[wait.lockName]?.content?.holder,
                detail: "pid \(wait.waiter.process.summary) "
                    + (wait.tookLock ? "took it after waiting \(waited)" : "stopped waiting after \(waited)"),
                processID: wait.waiter.process.processID, hostName: wait.waiter.process.hostName)
            event.waitedSeconds = wait.seconds
            event.tookLock = wait.tookLock
            return event
        }
    }

    /// Settles the aside `name` that went: records how its lock left (with the audit line of a
    /// break) for the transition that follows, and returns the lock name.
    /// One read may hold several removals of a lock (a watch that read late): the first is how the
    /// holder it knew left; a later break, of a holder it never read, is a `broken` event of its own.
    private func resolveAside(_ name: String) -> String? {
        guard let gone = asides.resolve(name) else { return nil }
        let audit = gone.removal == .operatorBreak ? auditTail?.take(asideName: name, in: locksDirectoryKey) : nil
        if resolvedRemovals[gone.lockName] == nil {
            resolvedRemovals[gone.lockName] = TransitionLedger.Removal(
                removal: gone.removal, processID: gone.processID, audit: audit)
        } else if let audit {
            queuedEvents.append(unreadHolderBreak(audit, lockName: gone.lockName))
        }
        return gone.lockName
    }

    /// The `broken` event of a holder this watch never read: it came and was broken between two reads.
    private func unreadHolderBreak(_ audit: AuditLog.Entry, lockName: String) -> MonitorEvent {
        .broken(
            by: audit, key: RecordKey.shownKey(ofLockName: lockName),
            detail: "a holder this watch never read", at: environment.now())
    }

    /// Handles time: announces expirations, rescans in polling mode, and re-attaches a directory
    /// that came back. Call about once a second.
    public func tick() -> [MonitorEvent] {
        let now = environment.now()
        var events = queuedEvents
        queuedEvents = []
        settleLoadedRecords()
        events += loseReplacedDirectories()
        if !missingDirectories.isEmpty { events += retryMissingDirectories() }
        for aside in asides.overdue(at: now) {
            if let name = resolveAside(aside) { events += refreshLock(named: name) }
        }
        resolvedRemovals = [:]
        // A directory whose stamp moved (a name came or went) is polled at the next tick, not at
        // the end of the interval: one `statx` a tick buys up to an interval of latency.
        if case .polling(let interval) = watchMode, missingDirectories.isEmpty,
            now.timeIntervalSince(lastScan) >= interval || scanner?.directoriesMoved() == true
        {
            events += poll(interval: min(interval, max(0.1, now.timeIntervalSince(lastScan))), at: now)
        }
        events += judgeAgain(at: now)
        return namingRecords(events.sorted { $0.time < $1.time })
    }

    /// Puts in the loader's table once it is built, and re-reads the records a watch event touched
    /// meanwhile; every row is rebuilt once.
    private func settleLoadedRecords() {
        guard let table = recordLoader?.take() else { return }
        recordLoader = nil
        snapshot.installRecords(table)
        for name in recordsTouchedWhileLoading { snapshot.refreshRecord(named: name) }
        recordsTouchedWhileLoading = []
        tracker.noteEverythingChanged()
        locktop_release_free_memory()
    }

    /// Drops a loader whose listing a full scan or a lost directory made stale; its thread ends on its own.
    private func forgetRecordLoader() {
        recordLoader = nil
        recordsTouchedWhileLoading = []
    }

    /// Judges again the locks that time alone may have changed: those due on the tracker's
    /// schedule (an expiration, the stale age, the end of a grace period) or sweep (naming a
    /// process), those whose creator fanotify saw and those with waiters (every tick), and the one
    /// someone looks at. An idle directory costs what is due, not what is there.
    private func judgeAgain(at now: Date) -> [MonitorEvent] {
        let changedWaiters = ledger.expireWaiters(at: now) { environment.processStartTicks($0) != .missing }
        if !changedWaiters.isEmpty {
            identityDirty = true
            for name in changedWaiters { tracker.noteChanged(lock: name) }
        }
        // What is published of a waiter counts for `list` for a moment only: while waits last, it is renewed each tick.
        if !ledger.lockNamesWithReaders.isEmpty { identityDirty = true }
        var events = endedWaitEvents()
        var (names, swept) = tracker.dueNames(at: now)
        names.formUnion(refreshRemoteEvidence())
        names.formUnion(creatorWatched)
        names.formUnion(ledger.lockNamesWithReaders)
        names.formUnion(closelyWatched)
        if swept {
            // A polled lock with a hold history may turn suspect, and what the CLI knows of it is refreshed.
            let polledWithHistory = polledLocks.filter { tracker.statistics(forLock: $0).typicalHold != nil }
            names.formUnion(polledWithHistory)
            if !polledWithHistory.isEmpty { identityDirty = true }
            notePollRates(at: now)
        }
        for name in names.sorted() {
            guard let lock = snapshot.locks[name] else {
                creatorWatched.remove(name)
                continue
            }
            events += judge(lock, at: now)
            judgementCount += 1
        }
        events += findDeadlocks(at: now)
        saveIdentitiesIfDirty(throttled: false)
        return events
    }

    /// Searches the wait-for graph of the locks with waiters for cycles; returns a `deadlock`
    /// event for each cycle not there at the last search, and notes its locks changed.
    private func findDeadlocks(at now: Date) -> [MonitorEvent] {
        let waited = ledger.lockNamesWithReaders.compactMap { snapshot.locks[$0] }
        let found =
            waited.isEmpty
            ? []
            : WaitForGraph(
                waited, identify: { identity(of: $0, lookingUpNamedProcess: false) }, classify: classification(of:)
            )
            .deadlocks()
        guard found != deadlocks else { return [] }
        let known = Set(deadlocks.map { $0.links.map(\.lockName) })
        for deadlock in found + deadlocks {
            for link in deadlock.links { tracker.noteChanged(lock: link.lockName) }
        }
        deadlocks = found
        return found.filter { !known.contains($0.links.map(\.lockName)) }.map { deadlock in
            var event = MonitorEvent(
                time: now, kind: .deadlock,
                key: RecordKey.shownKey(ofLockName: deadlock.links[0].lockName),
                detail: deadlock.summary,
                reason: deadlock.isCertain
                    ? "each holder in the cycle is alive and waits for the next lock"
                    : deadlock.links.count == 1
                        ? "possible: its holder waits for it too; a deadlock if on the same thread (nested transactions on one key)"
                        : "possible: a holder in the cycle is not known to be alive")
            event.deadlock = deadlock
            return event
        }
    }

    /// Judges `lock` at `now` through the tracker, and returns what is to be announced.
    private func judge(_ lock: LockEntry, at now: Date) -> [MonitorEvent] {
        let file = FileKey(lock.status)
        let evidence = fanotifyEvidence(of: lock)
        if evidence.creator == nil { creatorWatched.remove(lock.name) }
        let before = tracker.verdict(of: lock.name)
        let events = tracker.judge(lock, evidence: evidence, at: now)
        let judged = tracker.verdict(of: lock.name)
        // The creator's death is dated from the last tick that found it alive.
        if evidence.creator != nil, judged?.identitySource == .fanotify, judged?.liveness == .alive {
            ledger.creatorSeenAlive(file, at: now)
        }
        if evidence.creator != nil, judged?.state != before?.state || judged?.liveness != before?.liveness {
            identityDirty = true
        }
        return events
    }

    /// Reports as changed the locks whose poll rate moved since it was last reported.
    private func notePollRates(at now: Date) {
        for name in polledLocks.union(reportedPollRates.keys) {
            let rate = statistics(forLock: name).pollRate(now: now)
            if rate != reportedPollRates[name] ?? 0 { tracker.noteChanged(lock: name) }
            reportedPollRates[name] = rate > 0 ? rate : nil
        }
        polledLocks = []
    }

    /// Writes the identity file when what it holds changed; `throttled`, waiters at most every
    /// ``identitySaveInterval`` (the tick writes what a throttled call left), a new holder at once.
    private func saveIdentitiesIfDirty(throttled: Bool) {
        guard identityDirty else { return }
        let now = environment.now()
        if throttled, !holderUnpublished, now.timeIntervalSince(lastIdentitySave) < Self.identitySaveInterval { return }
        identityDirty = false
        holderUnpublished = false
        lastIdentitySave = now
        saveIdentities()
    }

    /// Writes what fanotify taught (creators and waiters of the lock files there now) to the identity file.
    private func saveIdentities() {
        var present: Set<FileKey> = []
        var records: [IdentityFile.Key: IdentityFile.Record] = [:]
        let now = environment.now()
        for lock in snapshot.locks.values {
            let file = FileKey(lock.status)
            present.insert(file)
            let statistics = tracker.statistics(forLock: lock.name)
            let record = IdentityFile.Record(
                creator: ledger.creator(of: file), waiters: ledger.waiters(of: lock.name),
                typicalHold: statistics.typicalHold,
                lastPolled: statistics.pollRate(now: now) > 0 ? statistics.openTimes.last : nil)
            if !record.isEmpty { records[IdentityFile.Key(lock.status)] = record }
        }
        ledger.keepCreators(of: present)
        try? identityFile?.save(records)
    }

    /// One poll: what changed since the last, through the same incremental path inotify uses.
    /// `interval` is the time since the last poll, which sizes its budget.
    private func poll(interval: TimeInterval, at now: Date) -> [MonitorEvent] {
        lastScan = now
        guard var scanner else { return rescan() }
        let found = scanner.poll(&snapshot, interval: interval, at: now)
        self.scanner = scanner
        return apply(found, at: now)
    }

    /// Reads both directories again and reports every difference as events.
    @discardableResult
    public func rescan() -> [MonitorEvent] {
        lastScan = environment.now()
        for directory in directories where !missingDirectories.contains(directory) {
            try? addWatch(directory, watchingOpens: false)
        }
        defer {
            for directory in directories where !missingDirectories.contains(directory) {
                try? addWatch(directory, watchingOpens: true)
            }
        }
        guard let records = snapshot.recordsHandle, let locks = snapshot.locksHandle,
            let fresh = try? DirectorySnapshot.scan(records: records, locks: locks)
        else {
            return loseReplacedDirectories()
        }
        scanCount += 1
        ownReads = [:]
        tracker.noteEverythingChanged()
        let names = Set(snapshot.locks.keys).union(fresh.locks.keys)
        let old = snapshot
        snapshot = fresh
        forgetRecordLoader()
        if scanner != nil { scanner = PollingScanner(fresh, at: lastScan) }
        var events: [MonitorEvent] = []
        for name in names.sorted() {
            if let lock = fresh.locks[name], old.locks[name]?.observation == lock.observation {
                // Unchanged: judged again, and announced only if its verdict moved meanwhile.
                events += judge(lock, at: lastScan)
            } else {
                events += update(name, from: old.locks[name], to: fresh.locks[name])
            }
        }
        return events
    }

    /// Re-reads the lock file `name` and reports the change.
    @discardableResult
    public func refreshLock(named name: String) -> [MonitorEvent] {
        let old = snapshot.locks[name]
        let new = snapshot.locksHandle.flatMap { LockEntry.read(name, in: $0) }
        if let new {
            countOwnReads([new])
            snapshot.setLock(new)
            // Its identity is published under its device, inode and modification time: a rewrite moves the last.
            if identityFile != nil, ledger.creator(of: FileKey(new.status)) != nil, old?.status != new.status {
                identityDirty = true
                holderUnpublished = true
            }
        } else {
            snapshot.removeLock(named: name)
        }
        return update(name, from: old, to: new)
    }

    /// Re-reads the lock file whose raw name `raw` is not text (shown as the escaped `name`): by
    /// its status alone, since locktop reads no file it cannot name, and reports the change. It
    /// stays in the model, `unreadable`, as `list` shows it.
    private func refreshEscapedLock(named name: String, raw: [UInt8]) -> [MonitorEvent] {
        let old = snapshot.locks[name]
        let status = (try? snapshot.locksHandle?.status(ofRaw: raw)) ?? nil
        let new = status.map {
            LockEntry(
                name: name, path: "\(configuration.locksDirectory)/\(name)",
                observation: .unreadable(status: $0, bytes: []),
                nameIsEscaped: true)
        }
        if let new { snapshot.setLock(new) } else { snapshot.removeLock(named: name) }
        return update(name, from: old, to: new)
    }

    /// Breaks the lock file `name`, logged by `breaker`, when its verdict (judged with this monitor's
    /// evidence) allows `authority`; with `shown`, only while it holds the bytes and the state the
    /// operator was shown. The model is not touched here: the watch reports the `broken` event when
    /// it sees the lock go, exactly as for a break by another process. When polling, the lock is
    /// read again at once and its event comes with the next ``tick()``.
    @discardableResult
    public func breakLock(
        named name: String, shown: (bytes: [UInt8], state: LockState)? = nil, authority: BreakAuthority,
        breaker: LockBreaker
    ) throws -> LockOperationOutcome {
        let outcome = try makeOperator(breaker: breaker).breakLock(named: name, authority: authority, shown: shown)
        if inotify == nil { queuedEvents += refreshLock(named: name) }
        return outcome
    }

    /// The names changed since the last call, for views that update row by row.
    public func takeChanges() -> MonitorChanges {
        tracker.takeChanges()
    }

    /// Makes an operator over this monitor's locks directory, clock, classifier and evidence, so
    /// that it breaks on the verdict the rows show.
    public func makeOperator(breaker: LockBreaker) -> LockOperator {
        LockOperator(
            locks: handles[configuration.locksDirectory], locksDirectory: configuration.locksDirectory,
            classifier: classifier, environment: environment, breaker: breaker, evidence: self,
            allowsUntrustedParent: configuration.allowsUntrustedParent,
            replacement: replacements[configuration.locksDirectory])
    }

    // MARK: Internals

    /// The lock file `name` went from `old` to `new`: the tracker judges it once, with how a lock
    /// that left went (its aside, its audit line).
    private func update(_ name: String, from old: LockEntry?, to new: LockEntry?) -> [MonitorEvent] {
        let now = environment.now()
        let evidence = new.map(fanotifyEvidence) ?? LockEvidence.none
        let removal = resolvedRemovals.removeValue(forKey: name)
        let events = tracker.update(
            name, from: old, to: new, evidence: evidence, at: now, removal: removal,
            isSetAside: asides.isAside(lockName: name)
        ) { lockName, holder in
            locksDirectoryKey.flatMap { auditTail?.take(lockName: lockName, in: $0, holder: holder) }
        }
        // A break that removed no holder this watch knew still happened.
        if let audit = removal?.audit, !events.contains(where: { $0.kind == .broken }) {
            return events + [unreadHolderBreak(audit, lockName: name)]
        }
        return events
    }

    private func countOwnReads<Locks: Sequence<LockEntry>>(_ locks: Locks) {
        guard inotify != nil else { return }
        for lock in locks where lock.status.isRegularFile && !lock.isSymbolicLink && !lock.nameIsEscaped {
            ownReads[lock.name, default: 0] += 1
        }
    }

    /// Counts a read of the lock file `name` (an open and close without writing) by another
    /// process, discounting the monitor's own reads.
    private func recordRead(of name: String, at now: Date) {
        if let pending = ownReads[name], pending > 0 {
            ownReads[name] = pending == 1 ? nil : pending - 1
            return
        }
        tracker.recordRead(of: name, at: now)
        polledLocks.insert(name)
    }

    /// `events` with the record keys of each one's lock file (``MonitorEvent/records``).
    private func namingRecords(_ events: [MonitorEvent]) -> [MonitorEvent] {
        events.map { event in
            guard event.isAboutALock else { return event }
            var named = event
            named.records = snapshot.recordKeys(forLock: RecordKey.lockFileName(forKey: event.key))
            return named
        }
    }

    /// Drops each directory whose path no longer leads to the one opened: it, or a parent, was
    /// removed, renamed or swapped. One `lstat` of each path; ticks and failed scans call it.
    private func loseReplacedDirectories() -> [MonitorEvent] {
        handles.keys.sorted().flatMap { directory in
            handles[directory]?.replacement().map { loseDirectory(directory, replacement: $0) } ?? []
        }
    }

    /// Forgets `directory`, which its path no longer leads to (`replacement`), and waits for a
    /// directory to be there again. A symbolic link there is never followed.
    private func loseDirectory(_ directory: String, replacement: DirectoryReplacement? = nil) -> [MonitorEvent] {
        guard !missingDirectories.contains(directory) else { return [] }
        let replacement = replacement ?? handles[directory]?.replacement()
        if replacement == nil && handles[directory] != nil { return [] }
        missingDirectories.append(directory)
        inotify?.unwatch(directory)
        lostHandles[directory] = handles.removeValue(forKey: directory)
        for name in snapshot.locks.keys { tracker.forget(name) }
        snapshot = Self.emptySnapshot(configuration, handles)
        forgetRecordLoader()
        tracker.forgetHolders()
        tracker.noteEverythingChanged()
        if let replacement, replacement.new != nil { return announce(replacement, watched: false) }
        return [
            MonitorEvent(
                time: environment.now(), kind: .directoryMissing, key: directory,
                detail: "\(directory) was removed; waiting for it to come back")
        ]
    }

    /// Records that `replacement.path` leads elsewhere than the directory first opened, and returns
    /// its `directory_replaced` event: breaks are refused there from now on.
    private func announce(_ replacement: DirectoryReplacement, watched: Bool) -> [MonitorEvent] {
        replacements[replacement.path] = replacement
        let consequence =
            watched
            ? "watched, but breaks are refused in it until locktop is started again" : "not followed, not watched"
        return [
            MonitorEvent(
                time: environment.now(), kind: .directoryReplaced, key: replacement.path,
                detail: "\(replacement); \(consequence)", replacement: replacement)
        ]
    }

    /// Opens each missing directory that is there again (never through a symbolic link). One that
    /// is not the directory first opened is watched, but breaks are refused in it (``replacements``).
    private func retryMissingDirectories() -> [MonitorEvent] {
        var events: [MonitorEvent] = []
        for directory in missingDirectories {
            let handle: DirectoryHandle
            do {
                handle = try DirectoryHandle.open(directory)
            } catch {
                // Something else than a directory is there (a link, say): said once, never followed.
                if let named = namedKeys[directory], let status = (try? FileSystem.status(directory)) ?? nil,
                    replacements[directory]?.new != FileKey(status)
                {
                    events += announce(
                        DirectoryReplacement(
                            path: directory, old: named, new: FileKey(status), isSymbolicLink: status.isSymbolicLink),
                        watched: false)
                }
                continue
            }
            handles[directory] = handle
            if watchMode == .inotify {
                guard (try? addWatch(directory, watchingOpens: true)) != nil else {
                    handles[directory] = nil
                    continue
                }
            }
            missingDirectories.removeAll { $0 == directory }
            lostHandles[directory] = nil
            let named = namedKeys[directory] ?? handle.key
            namedKeys[directory] = named
            if named != handle.key {
                events += announce(
                    DirectoryReplacement(path: directory, old: named, new: handle.key, isSymbolicLink: false),
                    watched: true)
            } else {
                events.append(
                    MonitorEvent(
                        time: environment.now(), kind: .directoryRestored, key: directory,
                        detail: "\(directory) is back; rescanned"))
            }
        }
        guard !events.isEmpty else { return [] }
        snapshot = Self.emptySnapshot(configuration, handles)
        if events.contains(where: { $0.key == configuration.locksDirectory }) { watchOpens() }
        if missingDirectories.isEmpty { events += rescan() }
        return events
    }
}
