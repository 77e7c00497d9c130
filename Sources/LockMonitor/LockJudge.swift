import Foundation

/// The rules that give a lock its verdict: ``LockClassifier``'s for every source, and a source's
/// own on top (prefect-redis's left-behind `wait_for_lock` probes).
public protocol LockJudge: Sendable {
    /// The classifier whose rules, stale age and grace period apply.
    var classifier: LockClassifier { get }
    /// The verdict of `lock` at `now`, from its file (or key) and `evidence`.
    func classify(_ lock: LockEntry, now: Date, environment: MonitorEnvironment, evidence: LockEvidence)
        -> LockClassification
    /// When time alone next changes that verdict; nil when only a change of the lock does.
    func nextStateChange(of lock: LockEntry, judged: LockClassification, evidence: LockEvidence) -> Date?
}

extension LockClassifier: LockJudge {
    public var classifier: LockClassifier { self }
}
