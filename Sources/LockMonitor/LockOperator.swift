import Foundation
import RecordStore

/// Why an operator action on a lock was refused or could not be done.
public enum LockOperationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// There is no lock file for the key.
    case noLock(key: String, lockFile: String)
    /// The lock's verdict needs more authority than was given (`--force`, or naming it).
    case refused(key: String, verdict: LockClassification, holder: String?)
    /// The name cannot be used to reach the file.
    case unreachableName(name: String)
    /// The lock is no longer what the operator was shown, so it was not broken.
    case changedSinceJudged(key: String)
    /// `--holder` named another holder than the lock's, and its verdict needs more authority.
    case heldByAnother(key: String, given: String, found: String?, verdict: LockClassification)
    /// The lock names another holder than the one the operator was shown (`--if-holder`), so it was
    /// not broken.
    case holderChanged(key: String, shown: String, found: String?)
    /// The lock's verdict moved since the operator was shown it, so it was not broken.
    case verdictChanged(key: String, shown: LockState, now: LockClassification)
    /// Another uid may rename or replace the locks directory (or a parent), so nothing is removed there.
    case untrustedDirectory(reason: String)
    /// The locks directory's path no longer leads to the directory opened, so nothing is removed there.
    case directoryReplaced(DirectoryReplacement)

    public var description: String {
        switch self {
        case .noLock(let key, let lockFile):
            return "no lock for key \"\(key)\" (\(lockFile) does not exist)"
        case .refused(let key, let verdict, let holder):
            let who = holder.map { " by \($0)" } ?? ""
            let needs =
                verdict.state.breakAuthority == .confirmed ? "name it (release KEY) or pass --suspect" : "--force"
            return "lock \"\(key)\" is \(verdict.label)\(who) (\(verdict.reason)); refusing without \(needs)"
        case .heldByAnother(let key, let given, let found, let verdict):
            let holder = found.map { "\"\(TerminalText.escaped($0))\"" } ?? "an unreadable lock file"
            return
                "lock \"\(key)\" is held by \(holder), not by \"\(TerminalText.escaped(given))\" (\(verdict.label): \(verdict.reason)); refusing without --force"
        case .holderChanged(let key, let shown, let found):
            let holder = found.map { "\"\(TerminalText.escaped($0))\"" } ?? "an unreadable lock file"
            return
                "lock \"\(key)\" is held by \(holder) now, not by \"\(TerminalText.escaped(shown))\" as shown; not broken"
        case .unreachableName(let name):
            return "the file name \(name) needs escaping (it is not plain UTF-8 text), and locktop does not act on it"
        case .changedSinceJudged(let key):
            return "lock \"\(key)\" changed since it was shown; not broken"
        case .untrustedDirectory(let reason):
            return "refusing to act: \(TerminalText.escaped(reason)); --allow-untrusted-parent overrides"
        case .directoryReplaced(let replacement):
            return "refusing to act: \(replacement); start locktop again to act on what is there now"
        case .verdictChanged(let key, let shown, let now):
            return "lock \"\(key)\" is \(now.label) now (\(now.reason)), not \(shown.rawValue) as shown; not broken"
        }
    }
}

/// What an operator action did to one lock.
public struct LockOperationOutcome: Equatable, Sendable {
    /// How the lock went away.
    public enum Action: String, Sendable {
        /// The holder released its own lock.
        case released
        /// The lock was broken through the safe break and logged.
        case broken
        /// Nothing was done (a dry run).
        case wouldBreak = "would_break"
        /// Nothing was done: the holder's own lock would be released (a dry run).
        case wouldRelease = "would_release"
    }

    /// What was done.
    public var action: Action
    /// The lock as judged.
    public var lock: LockEntry
    /// Its classification when judged.
    public var classification: LockClassification

    public init(action: Action, lock: LockEntry, classification: LockClassification) {
        self.action = action
        self.lock = lock
        self.classification = classification
    }
}

/// Releases and breaks locks for operators, through the core store's compare-and-delete and safe
/// break, on the one verdict of each lock: its file judged with the evidence of `evidence`.
public struct LockOperator {
    /// The directory holding the lock files, opened once: every read and removal goes through it.
    /// Nil when it does not exist.
    public let locks: DirectoryHandle?
    /// The locks directory's path, for messages and the trust check.
    public let locksDirectory: String
    /// Set when the locks directory's path led elsewhere since it was first opened: nothing is
    /// removed then.
    public let replacement: DirectoryReplacement?
    /// The classifier used to judge locks.
    public let classifier: LockClassifier
    /// Clock, host and process table.
    public let environment: MonitorEnvironment
    /// Breaks and logs.
    public let breaker: LockBreaker
    /// What is known of each lock beyond its file.
    public let evidence: any LockEvidenceSource

    /// Whether to act even where another uid may rename or replace the directory (`--allow-untrusted-parent`).
    public let allowsUntrustedParent: Bool

    /// Creates an operator over the locks directory opened as `locks` (nil: missing) at `locksDirectory`.
    public init(
        locks: DirectoryHandle?, locksDirectory: String, classifier: LockClassifier, environment: MonitorEnvironment,
        breaker: LockBreaker, evidence: any LockEvidenceSource = NoEvidence(), allowsUntrustedParent: Bool = false,
        replacement: DirectoryReplacement? = nil
    ) {
        self.locks = locks
        self.replacement = replacement
        self.locksDirectory = locksDirectory
        self.classifier = classifier
        self.environment = environment
        self.breaker = breaker
        self.evidence = evidence
        self.allowsUntrustedParent = allowsUntrustedParent
    }

    /// Opens the locks directory at `locksDirectory` once (a symbolic link is refused; a missing
    /// directory has no locks) and creates an operator over it.
    public init(
        opening locksDirectory: String, classifier: LockClassifier, environment: MonitorEnvironment,
        breaker: LockBreaker, evidence: any LockEvidenceSource = NoEvidence(), allowsUntrustedParent: Bool = false
    ) throws(RecordStoreError) {
        var locks: DirectoryHandle?
        do {
            locks = try DirectoryHandle.open(locksDirectory)
        } catch .directoryMissing {
            locks = nil
        }
        self.init(
            locks: locks, locksDirectory: locksDirectory, classifier: classifier, environment: environment,
            breaker: breaker, evidence: evidence, allowsUntrustedParent: allowsUntrustedParent)
    }

    /// Refuses to remove anything where another uid could swap the directory under us, or where
    /// the path no longer leads to the directory opened.
    private func requireTrustedDirectory(_ locks: DirectoryHandle) throws {
        if let replacement = replacement ?? locks.replacement() {
            throw LockOperationError.directoryReplaced(replacement)
        }
        guard !allowsUntrustedParent, let reason = DirectoryTrust.untrustedReason(locksDirectory) else { return }
        throw LockOperationError.untrustedDirectory(reason: reason)
    }

    /// The verdict of `lock` now.
    public func verdict(of lock: LockEntry) -> LockClassification {
        let now = environment.now()
        return classifier.classify(
            lock, now: now, environment: environment, evidence: evidence.evidence(of: lock, at: now))
    }

    /// Releases the lock of record `key` (mapped through the `.lock` suffix rule).
    /// `holder`'s own lock is released; otherwise the lock is broken when its verdict allows
    /// `authority`: a release names one lock, so `.confirmed` breaks expired, stale and suspect locks.
    /// `key` may also be the lock file's name as `ls` shows it (`task.lock`): no key ends in `.lock`.
    /// With `shownHolder`, nothing is done unless the lock still names that holder: a lock taken
    /// again since the operator looked is left alone. With `dryRun`, nothing is removed: the outcome
    /// says what would be.
    public func release(
        key: String, holder: String?, shownHolder: String? = nil, authority: BreakAuthority, dryRun: Bool = false
    ) throws -> LockOperationOutcome {
        let storeKey = RecordKey.representativeKey(forLockFileName: key) ?? key
        let lockName = try lockName(forKey: storeKey)
        let lock = try currentLock(named: lockName, key: key)
        if let shownHolder, lock.content?.holder != shownHolder {
            throw LockOperationError.holderChanged(key: key, shown: shownHolder, found: lock.content?.holder)
        }
        let classification = verdict(of: lock)
        if let holder, lock.content?.holder == holder, let locks {
            if dryRun { return LockOperationOutcome(action: .wouldRelease, lock: lock, classification: classification) }
            try requireTrustedDirectory(locks)
            // The holder's own lock: removed only while it is still the file judged, still the holder's.
            guard case .readable(let snapshot) = lock.observation,
                try LockFiles.remove(lockName, in: locks, judged: snapshot.status, bytes: lock.bytes, key: storeKey)
            else {
                throw LockOperationError.noLock(key: key, lockFile: lock.path)
            }
            return LockOperationOutcome(action: .released, lock: lock, classification: classification)
        }
        return try breakLock(lock, classification: classification, authority: authority, dryRun: dryRun)
    }

    /// Breaks the lock file `name` when its verdict allows `authority`. With `shown`, only while the
    /// file still holds exactly the bytes the operator was shown and (short of `.forced`) its verdict
    /// is still the state they were shown.
    public func breakLock(
        named name: String, authority: BreakAuthority, dryRun: Bool = false,
        shown: (bytes: [UInt8], state: LockState)? = nil
    ) throws -> LockOperationOutcome {
        let lock = try currentLock(named: name, key: RecordKey.shownKey(ofLockName: name))
        if let shown, lock.bytes != shown.bytes { throw LockOperationError.changedSinceJudged(key: lock.key) }
        let classification = verdict(of: lock)
        if let shown, authority < .forced, classification.state != shown.state {
            throw LockOperationError.verdictChanged(key: lock.key, shown: shown.state, now: classification)
        }
        return try breakLock(lock, classification: classification, authority: authority, dryRun: dryRun)
    }

    private func breakLock(
        _ lock: LockEntry, classification: LockClassification, authority: BreakAuthority,
        dryRun: Bool
    ) throws -> LockOperationOutcome {
        guard !lock.nameIsEscaped else { throw LockOperationError.unreachableName(name: lock.name) }
        guard authority >= classification.state.breakAuthority else {
            throw LockOperationError.refused(key: lock.key, verdict: classification, holder: lock.content?.holder)
        }
        if dryRun { return LockOperationOutcome(action: .wouldBreak, lock: lock, classification: classification) }
        guard let locks else { throw LockOperationError.noLock(key: lock.key, lockFile: lock.path) }
        try requireTrustedDirectory(locks)
        guard
            try breaker.breakLock(
                lock.name, in: locks, judged: lock.observation, key: lock.key,
                reason: classification.breakReason(authority: authority))
        else {
            throw LockOperationError.noLock(key: lock.key, lockFile: lock.path)
        }
        return LockOperationOutcome(action: .broken, lock: lock, classification: classification)
    }

    private func lockName(forKey key: String) throws -> String {
        try RecordKey.validate(key)
        return RecordKey.lockFileName(forKey: key)
    }

    private func currentLock(named name: String, key: String) throws -> LockEntry {
        guard let locks, let lock = LockEntry.read(name, in: locks) else {
            throw LockOperationError.noLock(key: key, lockFile: "\(locksDirectory)/\(name)")
        }
        return lock
    }
}
