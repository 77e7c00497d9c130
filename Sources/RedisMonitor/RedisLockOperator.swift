import Foundation
import LockMonitor
import RecordStore
import RedisStore

/// Releases and breaks prefect-redis locks for operators: a compare-and-delete of exactly the
/// token that was judged, so a lock taken again meanwhile is "changed, not broken"; every break
/// is appended to the audit log with the server (never its password) as the location.
public struct RedisLockOperator {
    public let reader: RedisLockReader
    public let judge: RedisLockJudge
    public let environment: MonitorEnvironment
    public let breaker: LockBreaker

    public init(reader: RedisLockReader, judge: RedisLockJudge, environment: MonitorEnvironment, breaker: LockBreaker) {
        self.reader = reader
        self.judge = judge
        self.environment = environment
        self.breaker = breaker
    }

    /// Releases the lock of `key`: `holder`'s own lock is deleted while it is still theirs; otherwise
    /// the lock is broken when its verdict allows `authority`. With `shownHolder`, only while the
    /// token is still that holder's: the delete compares the token read.
    public func release(
        key: String, holder: String?, shownHolder: String? = nil, authority: BreakAuthority, dryRun: Bool = false
    ) throws -> LockOperationOutcome {
        let now = environment.now()
        guard let lock = try reader.lock(forKey: key, now: now) else {
            throw LockOperationError.noLock(key: key, lockFile: "\(reader.url) \(reader.store.prefix)\(key)")
        }
        if let shownHolder, lock.lock.holderText != shownHolder {
            throw LockOperationError.holderChanged(key: key, shown: shownHolder, found: lock.lock.holderText)
        }
        let classification = judge.classify(lock, now: now, environment: environment)
        if let holder, lock.lock.holderText == holder {
            if dryRun {
                return LockOperationOutcome(action: .wouldRelease, lock: lock.entry, classification: classification)
            }
            guard try reader.store.remove(name: lock.lock.name, holder: lock.lock.holder) else {
                throw LockOperationError.changedSinceJudged(key: key)
            }
            return LockOperationOutcome(action: .released, lock: lock.entry, classification: classification)
        }
        return try breakLock(lock, classification: classification, authority: authority, dryRun: dryRun)
    }

    /// Breaks `lock` (as judged, with `classification`) when that verdict allows `authority`; only
    /// while it still holds the judged token.
    public func breakLock(
        _ lock: RedisLockEntry, classification: LockClassification, authority: BreakAuthority,
        dryRun: Bool
    ) throws -> LockOperationOutcome {
        let key = lock.lock.key
        guard authority >= classification.state.breakAuthority else {
            throw LockOperationError.refused(key: key, verdict: classification, holder: lock.lock.holderText)
        }
        if dryRun { return LockOperationOutcome(action: .wouldBreak, lock: lock.entry, classification: classification) }
        guard try reader.store.remove(name: lock.lock.name, holder: lock.lock.holder) else {
            if try reader.store.lock(forKey: key) != nil { throw LockOperationError.changedSinceJudged(key: key) }
            throw LockOperationError.noLock(key: key, lockFile: lock.entry.path)
        }
        // The delete is atomic and cannot wait for the log: the line follows it, and a failure to write it is an error.
        try breaker.auditLog.append(
            AuditLog.Entry(
                time: breaker.now(), brokenBy: breaker.operatorName, key: key, lockFile: lock.entry.path,
                oldHolder: lock.lock.holderText, oldExpiration: lock.entry.content?.expiration,
                reason: classification.breakReason(authority: authority)))
        return LockOperationOutcome(action: .broken, lock: lock.entry, classification: classification)
    }
}
