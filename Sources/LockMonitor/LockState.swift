/// The one state each lock is in. Each state says what the evidence proves, and so how much an
/// operator must say before the lock is broken (``breakAuthority``).
public enum LockState: String, Sendable, CaseIterable {
    /// Readable and current: its holder is alive, or nothing says otherwise yet.
    case held
    /// Held longer than it should be (past `--stale-after`, or far past its own hold history with
    /// waiters polling), and nothing shows its holder dead or alive: a lock to look at, not proof.
    case suspect
    /// Past an expiration that its holder itself set.
    case expired
    /// Its holder is proven dead: the pid is gone or reused, or the process seen writing it died.
    case stale
    /// Empty or garbled for longer than the grace period, or not readable by this user.
    case unreadable
    /// Empty or garbled, within the grace period: probably being written right now.
    case writing

    /// The least authority that breaks a lock in this state: expired and stale locks go in a bulk
    /// break, a suspect only when asked for by name (or `--suspect`), everything else with `--force`.
    public var breakAuthority: BreakAuthority {
        switch self {
        case .expired, .stale: return .unattended
        case .suspect: return .confirmed
        case .held, .unreadable, .writing: return .forced
        }
    }

    /// Whether a bulk break (`break`, the dashboard's `X`) takes locks in this state.
    public var isBreakableWithoutForce: Bool { breakAuthority == .unattended }

    /// Whether the state needs someone: what `list --check` reports.
    public var needsAttention: Bool { self != .held && self != .writing }
}

/// How much an operator said before a break: a lock is broken only when this reaches its state's
/// ``LockState/breakAuthority``.
public enum BreakAuthority: Int, Sendable, Comparable {
    /// A bulk break (`break --stale --expired`, the dashboard's `X`): proof alone.
    case unattended
    /// One lock asked for by name after its verdict was shown (`release KEY`, the dashboard's `r`
    /// then `y`, `break --suspect`).
    case confirmed
    /// `--force`, or the dashboard's typed key: any lock, even a live one.
    case forced

    public static func < (lhs: BreakAuthority, rhs: BreakAuthority) -> Bool { lhs.rawValue < rhs.rawValue }
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
