/// The kind of store a dashboard's locks are in.
public enum LockStoreKind: Equatable, Sendable {
    /// Lock files beside (or apart from) their records: a break takes the file aside, checks and logs it.
    case directory
    /// prefect-redis keys: a break deletes only the token shown; there are no records.
    case redis

    /// Whether the store has records beside its locks, for the header to count.
    public var holdsRecords: Bool { self == .directory }

    /// Whether a lock's age is when it was taken (a lock file's time); else it is when locktop
    /// first saw it (a Redis key has no time of its own).
    public var knowsWhenTaken: Bool { self == .directory }

    /// Whether waiters' polling can be seen (their opens of the lock file); a Redis `GET` cannot.
    public var seesPolling: Bool { self == .directory }

    /// What the header says while the store at `location` cannot be read.
    public func unreachableText(_ location: String) -> String {
        switch self {
        case .directory: return "\(location) does not exist; waiting for it"
        case .redis: return "\(location) is not answering; reconnecting"
        }
    }
}
