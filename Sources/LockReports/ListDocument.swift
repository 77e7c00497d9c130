import Foundation
import LockMonitor
import RecordStore

/// `list --json`'s document of a directory, as `list --json` and `serve`'s `/api/v1/locks` give it:
/// the directory read afresh and each lock judged with what a watching locktop published
/// (``PublishedEvidence``), so that it gives the dashboard's verdict.
public struct ListDocument {
    /// The records directory and the locks directory, each opened once.
    public let records: DirectoryHandle
    public let locks: DirectoryHandle
    public let classifier: LockClassifier
    public let environment: MonitorEnvironment
    public let auditLog: AuditLog

    public init(
        records: DirectoryHandle, locks: DirectoryHandle, classifier: LockClassifier, environment: MonitorEnvironment,
        auditLog: AuditLog
    ) {
        self.records = records
        self.locks = locks
        self.classifier = classifier
        self.environment = environment
        self.auditLog = auditLog
    }

    /// Reads the directories and hands the document to `write` piece by piece; with
    /// `includeSummaries`, each record's JSON is read and summarised too. Returns the locks'
    /// verdicts and the deadlocks among them.
    @discardableResult
    public func write(includeSummaries: Bool, to write: ([UInt8]) -> Void) throws(RecordStoreError)
        -> (verdicts: [LockClassification], deadlocks: [WaitForGraph.Deadlock])
    {
        let (snapshot, listing) = try DirectorySnapshot.scanLocks(records: records, locks: locks, statting: true)
        let judgement = PublishedJudgement(
            classifier: classifier, environment: environment, auditLog: auditLog, locksDirectory: locks)
        var verdicts: [LockClassification] = []
        let classify = { (lock: LockEntry) in
            let verdict = judgement.classify(lock)
            verdicts.append(verdict)
            return verdict
        }
        Reports.writeListJSON(
            snapshot: snapshot, records: listing, classify: classify, identify: judgement.identify,
            auditLog: auditLog.path, includeSummaries: includeSummaries, now: judgement.now, to: write)
        return (verdicts, judgement.deadlocks(among: snapshot.locks.values))
    }
}
