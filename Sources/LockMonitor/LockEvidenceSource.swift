import Foundation
import RecordStore

/// Where the ``LockEvidence`` of a lock comes from: a watching monitor's own ledger, or what a
/// watching locktop published for the CLI (``PublishedEvidence``).
public protocol LockEvidenceSource {
    /// What is known of `lock` beyond its file, at `now`.
    func evidence(of lock: LockEntry, at now: Date) -> LockEvidence
}

/// The lock files alone: no evidence.
public struct NoEvidence: LockEvidenceSource {
    public init() {}

    public func evidence(of lock: LockEntry, at now: Date) -> LockEvidence { .none }
}

/// What a watching locktop published in `identities.json` beside the audit log: who created each
/// lock file, who waited on it lately, and its usual hold; and what other hosts' agents and the
/// helpers' heartbeats say (``RemoteEvidence``). `list`, `break` and `release` judge with it, so
/// they give the verdict the dashboard gives.
public struct PublishedEvidence: LockEvidenceSource {
    private let records: [IdentityFile.Key: IdentityFile.Record]
    private let remote: RemoteEvidence?

    /// Reads the identity file once, and the reports and heartbeats in `locksDirectory` when given.
    public init(_ file: IdentityFile, locksDirectory: DirectoryHandle? = nil, environment: MonitorEnvironment = .live) {
        records = file.load()
        remote = locksDirectory.map { RemoteEvidence(locksDirectory: $0, environment: environment) }
    }

    public func evidence(of lock: LockEntry, at now: Date) -> LockEvidence {
        var evidence = LockEvidence.none
        if let record = records[IdentityFile.Key(lock.status)] {
            // A waiter published more than a moment ago may be gone: the watcher forgets it after the same timeout.
            let recent = { (time: Date) in now.timeIntervalSince(time) < IdentityLedger.waiterTimeout + 1 }
            evidence = LockEvidence(
                creator: record.creator, waiters: record.waiters.filter { recent($0.lastSeen) },
                typicalHold: record.typicalHold, isPolled: record.lastPolled.map(recent) ?? false)
        }
        if let remote { (evidence.testimonies, evidence.reportedHolder) = remote.evidence(of: lock) }
        return evidence
    }
}
