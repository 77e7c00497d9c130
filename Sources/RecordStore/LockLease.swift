import Foundation

/// A lock held for as long as a command runs: renewed before it expires, and watched, so that its
/// loss (a break, or a replacement by another holder) is known at once.
///
/// The corresponding tool is `locktop lock`; the loop that runs the command polls
/// ``fileDescriptor`` and calls ``checkForLoss()`` when it is readable and ``renew()`` every
/// ``renewalInterval``.
public final class LockLease {
    /// How the lease was lost, as far as the watch and the audit log tell.
    public struct Loss: Equatable, Sendable, CustomStringConvertible {
        /// `user@host:pid` from the audit log, or `pid N` from the aside name of a break.
        public var brokenBy: String?
        /// The reason the audit log gives.
        public var reason: String?
        /// The holder of the lock file that is there now, if any.
        public var currentHolder: String?

        public var description: String {
            var words: [String] = []
            if let brokenBy { words.append("broken by \(brokenBy)") }
            if let reason { words.append(reason) }
            if let currentHolder { words.append("now held by \(currentHolder)") }
            return words.isEmpty ? "removed by another process" : words.joined(separator: ", ")
        }
    }

    /// The record key.
    public let key: String
    /// Who holds it.
    public let holder: String
    /// The lock file.
    public let path: String
    /// The expiration is renewed to this many seconds ahead; nil when the lock never expires.
    public let holdTimeout: Double?
    private let store: FileSystemRecordStore
    private let watch: InotifyWatch
    private let lockName: [UInt8]
    private var auditTail: AuditTail?
    private var movedCookies: Set<UInt32> = []
    private var breakerName: String?
    private var breakerNameGone = false

    /// Watches the lock `holder` took on `key` through `store`. `auditLog` names who broke it.
    public init(store: FileSystemRecordStore, key: String, holder: String, holdTimeout: Double?, auditLog: AuditLog?)
        throws(RecordStoreError)
    {
        self.store = store
        self.key = key
        self.holder = holder
        self.holdTimeout = holdTimeout
        path = try store.lockPath(forKey: key)
        lockName = Array((path as NSString).lastPathComponent.utf8)
        auditTail = auditLog.map(AuditTail.init)
        watch = try InotifyWatch()
        try watch.add(directory: store.locks(), mask: InotifyWatch.directoryChanges)
    }

    /// The descriptor that becomes readable when the lock's directory changes.
    public var fileDescriptor: Int32 { watch.fileDescriptor }

    /// How often to renew: a third of the hold timeout, so two renewals may fail before expiry.
    public var renewalInterval: TimeInterval? { holdTimeout.map { $0 / 3 } }

    /// Renews the expiration. Returns the loss when the lock is no longer this holder's file.
    public func renew() throws(RecordStoreError) -> Loss? {
        try store.renewLock(key: key, holder: holder, holdTimeout: holdTimeout) ? nil : loss()
    }

    /// Reads the watch; returns the loss when the lock file is gone or is no longer ours.
    public func checkForLoss() -> Loss? {
        var touched = false
        for event in watch.readEvents() {
            if event.name == lockName {
                touched = true
                if event.has(InotifyWatch.movedFrom) { movedCookies.insert(event.cookie) }
            } else if event.has(InotifyWatch.movedTo), movedCookies.remove(event.cookie) != nil {
                breakerName = String(decoding: event.name, as: UTF8.self)
                breakerNameGone = false
            } else if event.has(InotifyWatch.deleted), let breakerName, event.name == Array(breakerName.utf8) {
                breakerNameGone = true
            } else if event.watch == -1
                || event.has(InotifyWatch.selfDeleted | InotifyWatch.selfMoved | InotifyWatch.ignored)
            {
                touched = true
            }
        }
        return touched ? verify() : nil
    }

    /// Checks the lock file is still the one this holder wrote; returns the loss when it is not.
    public func verify() -> Loss? {
        store.holdsLockFile(key: key, holder: holder) ? nil : loss()
    }

    private func loss() -> Loss {
        var loss = Loss()
        if let breakerName, let (removal, processID) = LockFiles.Removal.parse(asideName: breakerName),
            removal == .operatorBreak
        {
            loss.brokenBy = "pid \(processID)"
            if auditTail != nil && !breakerNameGone { waitForRemoval(of: breakerName, seconds: 0.1) }
            if let entry = auditTail?.take(asideName: breakerName, in: (try? store.locks())?.key) {
                loss.brokenBy = entry.brokenBy
                loss.reason = entry.reason
            }
        }
        if case .readable(let snapshot)? = try? store.observeLock(key: key) {
            loss.currentHolder = snapshot.content.holder
        }
        return loss
    }

    /// Waits a moment for the breaker to drop its aside file, which it does right after logging the break.
    private func waitForRemoval(of asideName: String, seconds: TimeInterval) {
        let name = Array(asideName.utf8)
        let deadline = MonotonicClock.seconds() + seconds
        while case let remaining = deadline - MonotonicClock.seconds(), remaining > 0,
            watch.waitForEvents(timeout: remaining)
        {
            if watch.readEvents().contains(where: { $0.name == name && $0.has(InotifyWatch.deleted) }) { return }
        }
    }
}
