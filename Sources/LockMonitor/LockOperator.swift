import Foundation
import RecordStore

/// Why an operator action on a lock was refused or could not be done.
public enum LockOperationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// There is no lock file for the key.
    case noLock(key: String, lockFile: String)
    /// The lock is live (or unreadable, or being written) and `--force` was not given.
    case refused(key: String, state: LockState, reason: String, holder: String?)
    /// The name cannot be used to reach the file.
    case unreachableName(name: String)
    /// The lock is no longer what the operator was shown, so it was not broken.
    case changedSinceJudged(key: String)

    public var description: String {
        switch self {
        case let .noLock(key, lockFile):
            return "no lock for key \"\(key)\" (\(lockFile) does not exist)"
        case let .refused(key, state, reason, holder):
            let who = holder.map { " by \($0)" } ?? ""
            return "lock \"\(key)\" is \(state.rawValue)\(who) (\(reason)); refusing without --force"
        case let .unreachableName(name):
            return "the file name \(name) is not UTF-8 and cannot be acted on by locktop"
        case let .changedSinceJudged(key):
            return "lock \"\(key)\" changed since it was shown; not broken"
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

/// Releases and breaks locks for operators, through the core store's compare-and-delete and safe break.
public struct LockOperator: Sendable {
    /// The directory holding the lock files.
    public let locksDirectory: String
    /// The classifier used to judge locks.
    public let classifier: LockClassifier
    /// Clock, host and process table.
    public let environment: MonitorEnvironment
    /// Breaks and logs.
    public let breaker: LockBreaker

    /// Creates an operator.
    public init(locksDirectory: String, classifier: LockClassifier, environment: MonitorEnvironment, breaker: LockBreaker) {
        self.locksDirectory = locksDirectory
        self.classifier = classifier
        self.environment = environment
        self.breaker = breaker
    }

    /// Releases the lock of record `key` (mapped through the `.lock` suffix rule).
    /// `holder`'s own lock is released; an expired or stale lock is broken; a live one only with `force`.
    /// `key` may also be the lock file's name as `ls` shows it (`task.lock`): no key ends in `.lock`.
    public func release(key: String, holder: String?, force: Bool) throws -> LockOperationOutcome {
        let storeKey = RecordKey.representativeKey(forLockFileName: key) ?? key
        let lockName = try lockName(forKey: storeKey)
        let lock = try currentLock(named: lockName, key: key)
        let classification = classifier.classify(lock, now: environment.now(), environment: environment)
        if let holder, lock.content?.holder == holder {
            // Releasing touches only the lock file: the store needs no records directory of its own.
            let locks = URL(fileURLWithPath: locksDirectory)
            let store = FileSystemRecordStore(recordsDirectory: locks, locksDirectory: locks)
            try store.releaseLock(key: storeKey, holder: holder)
            return LockOperationOutcome(action: .released, lock: lock, classification: classification)
        }
        return try breakLock(lock, classification: classification, force: force, dryRun: false)
    }

    /// Breaks the lock file `name` when it is expired or stale, or in any state with `force`.
    /// With `judgedBytes`, only while the file still holds exactly those bytes, as the operator was shown.
    public func breakLock(named name: String, force: Bool, dryRun: Bool = false, judgedBytes: [UInt8]? = nil) throws -> LockOperationOutcome {
        let lock = try currentLock(named: name, key: RecordKey.lockStem(ofFileName: name) ?? name)
        if let judgedBytes, lock.bytes != judgedBytes { throw LockOperationError.changedSinceJudged(key: lock.key) }
        let classification = classifier.classify(lock, now: environment.now(), environment: environment)
        return try breakLock(lock, classification: classification, force: force, dryRun: dryRun)
    }

    private func breakLock(_ lock: LockEntry, classification: LockClassification, force: Bool, dryRun: Bool) throws -> LockOperationOutcome {
        guard !lock.nameIsEscaped else { throw LockOperationError.unreachableName(name: lock.name) }
        guard force || classification.state.isBreakableWithoutForce else {
            throw LockOperationError.refused(key: lock.key, state: classification.state, reason: classification.reason,
                                             holder: lock.content?.holder)
        }
        if dryRun { return LockOperationOutcome(action: .wouldBreak, lock: lock, classification: classification) }
        guard try breaker.breakLock(path: lock.path, judged: lock.observation, key: lock.key, reason: classification.breakReason(force: force)) else {
            throw LockOperationError.noLock(key: lock.key, lockFile: lock.path)
        }
        return LockOperationOutcome(action: .broken, lock: lock, classification: classification)
    }

    private func lockName(forKey key: String) throws -> String {
        try RecordKey.validate(key)
        return RecordKey.lockFileName(forKey: key)
    }

    private func currentLock(named name: String, key: String) throws -> LockEntry {
        let path = "\(locksDirectory)/\(name)"
        guard let lock = LockEntry.read(name: name, path: path) else {
            throw LockOperationError.noLock(key: key, lockFile: path)
        }
        return lock
    }
}
