/// The kind of store a dashboard's locks are in.
public enum LockStoreKind: Equatable, Sendable {
    /// Lock files beside (or apart from) their records: a break takes the file aside, checks and logs it.
    case directory
    /// prefect-redis keys: a break deletes only the token shown; there are no records.
    case redis

    /// Whether the store has records beside its locks, for the header to count.
    public var holdsRecords: Bool { self == .directory }
}
