import Foundation
import RecordStore

/// How the CLI judges a lock it reads from its file: the classifier, with what a watching locktop
/// published beside the audit log (``PublishedEvidence``), at one moment. `list` judges with it, so
/// it gives the verdict the dashboard gives.
public struct PublishedJudgement {
    /// The moment every lock is judged at.
    public let now: Date
    private let classifier: LockClassifier
    private let environment: MonitorEnvironment
    private let published: PublishedEvidence

    /// Reads the identity file beside `auditLog` once, and the other hosts' reports in
    /// `locksDirectory`'s `.locktop/` folder, when given.
    public init(
        classifier: LockClassifier, environment: MonitorEnvironment, auditLog: AuditLog,
        locksDirectory: DirectoryHandle? = nil
    ) {
        self.classifier = classifier
        self.environment = environment
        now = environment.now()
        published = PublishedEvidence(
            IdentityFile(besides: auditLog), locksDirectory: locksDirectory, environment: environment)
    }

    private func evidence(of lock: LockEntry) -> LockEvidence { published.evidence(of: lock, at: now) }

    /// The verdict on `lock`.
    public func classify(_ lock: LockEntry) -> LockClassification {
        classifier.classify(lock, now: now, environment: environment, evidence: evidence(of: lock))
    }

    /// The deadlocks among `locks`, from the waiters and holders published.
    public func deadlocks(among locks: some Sequence<LockEntry>) -> [WaitForGraph.Deadlock] {
        WaitForGraph(locks, identify: identify, classify: classify).deadlocks()
    }

    /// Who holds `lock` and who waits on it, as far as is known.
    public func identify(_ lock: LockEntry) -> LockIdentity {
        let evidence = evidence(of: lock)
        return LockIdentity(
            of: lock, creator: evidence.creator, waiters: evidence.waiters, hostName: environment.hostName,
            reportedHolder: evidence.reportedHolder)
    }
}
