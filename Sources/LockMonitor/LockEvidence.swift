import Foundation

/// What is known of a lock beyond its own file: who was seen writing it, who waits on it, and
/// how long it is usually held. Every surface judges a lock from its file and this, through one
/// ``LockClassifier``: the dashboard from its watch, the CLI from what a watching locktop
/// published (`identities.json`).
public struct LockEvidence: Equatable, Sendable {
    /// The process fanotify saw write the lock file, now or in an earlier run.
    public var creator: ProcessDetails?
    /// The processes waiting on it, longest first.
    public var waiters: [IdentityLedger.Waiter]
    /// The 95th percentile of its recent completed holds, when enough were seen.
    public var typicalHold: TimeInterval?
    /// Whether other processes are reading it now: waiters polling, counted or not.
    public var isPolled: Bool
    /// What other hosts' agents, the holder's heartbeat and Prefect's API say of the holder
    /// (``RemoteEvidence``): weighed when this host cannot judge the holder itself.
    public var testimonies: [LivenessTestimony] = []
    /// The process another host's agent saw create the lock file, when this host saw none.
    public var reportedHolder: ProcessDetails?

    public init(
        creator: ProcessDetails? = nil, waiters: [IdentityLedger.Waiter] = [], typicalHold: TimeInterval? = nil,
        isPolled: Bool = false
    ) {
        self.creator = creator
        self.waiters = waiters
        self.typicalHold = typicalHold
        self.isPolled = isPolled || !waiters.isEmpty
    }

    /// No evidence: the lock file alone.
    public static let none = LockEvidence()
}
