import Foundation

/// What is known of the processes around one lock: who holds it and who waits for it.
public struct LockIdentity: Equatable, Sendable {
    /// The holder's process: the one fanotify saw write the lock file, or the one the lock names.
    public var holderProcess: ProcessDetails?
    /// The processes waiting, longest first; empty when not known.
    public var waiters: [IdentityLedger.Waiter]

    public init(holderProcess: ProcessDetails? = nil, waiters: [IdentityLedger.Waiter] = []) {
        self.holderProcess = holderProcess
        self.waiters = waiters
    }

    /// The identity of `lock`: its `creator` when fanotify saw one, else, when `lookingUpNamedProcess`,
    /// the local process the lock file names, read from `/proc` on `hostName`, else the process
    /// another host's agent reported creating it.
    public init(
        of lock: LockEntry, creator: ProcessDetails?, waiters: [IdentityLedger.Waiter], hostName: String,
        lookingUpNamedProcess: Bool = true, reportedHolder: ProcessDetails? = nil
    ) {
        let named =
            creator == nil && lookingUpNamedProcess
            ? lock.content.flatMap { ProcessDetails.namedBy($0, hostName: hostName) } : nil
        self.init(holderProcess: creator ?? named ?? reportedHolder, waiters: waiters)
    }
}
