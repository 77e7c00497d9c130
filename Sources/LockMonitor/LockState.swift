/// The one state each lock is in.
public enum LockState: String, Sendable, CaseIterable, Comparable {
    /// Readable, neither expired nor stale.
    case held
    /// Its expiration has passed.
    case expired
    /// Not expired, but its holder process is gone (or its pid reused), or it is older than the stale age.
    case stale
    /// Empty or garbled for longer than the grace period.
    case unreadable
    /// Empty or garbled, within the grace period: probably being written right now.
    case writing

    /// Whether an operator may break locks in this state without `--force`.
    public var isBreakableWithoutForce: Bool { self == .expired || self == .stale }

    public static func < (lhs: LockState, rhs: LockState) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Whether the process holding a lock is alive, as far as this host can tell.
public enum Liveness: String, Sendable {
    /// The holder's process runs on this host.
    case alive
    /// The holder's pid does not exist on this host.
    case dead
    /// The pid exists, but it is a newer process than the one that took the lock.
    case reused
    /// Another host's process, or a holder without a pid (a UUID): cannot be judged.
    case unknown
}

/// Where locktop learned which process holds a lock.
public enum IdentitySource: String, Sendable {
    /// fanotify saw the process write the lock file (or an earlier run did, kept in the identity file).
    case fanotify
    /// The lock file's own `host`/`pid` fields (locktop's locks, the Prefect helper's).
    case lockFile = "lock-file"
    /// A `host:pid:thread_id:thread_name` holder.
    case holderString = "holder-string"
    /// Nothing says: a UUID holder nobody was watching.
    case none
}
