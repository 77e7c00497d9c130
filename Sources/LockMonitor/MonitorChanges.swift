/// What changed in the monitor's model since a view last looked.
public struct MonitorChanges: Equatable, Sendable {
    /// Lock file names that were added, rewritten or removed.
    public var locks: Set<String> = []
    /// Record keys that were added, rewritten or removed.
    public var records: Set<String> = []
    /// A rescan or a lost directory replaced the whole model.
    public var everything = false
    /// The sizes and times of records listed at start arrived (``RecordStatusLoader``).
    public var recordStatuses = false

    /// Changes to the given names.
    public init(locks: Set<String> = [], records: Set<String> = [], everything: Bool = false) {
        self.locks = locks
        self.records = records
        self.everything = everything
    }

    /// Whether nothing changed.
    public var isEmpty: Bool { locks.isEmpty && records.isEmpty && !everything && !recordStatuses }
}
