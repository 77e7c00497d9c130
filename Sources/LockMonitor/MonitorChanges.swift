/// What changed in the monitor's model since a view last looked.
public struct MonitorChanges: Equatable, Sendable {
    /// Lock file names that were added, rewritten or removed.
    public var locks: Set<String> = []
    /// Record keys that were added, rewritten or removed.
    public var records: Set<String> = []
    /// A rescan, a lost directory or the records read behind the first screen replaced the whole model.
    public var everything = false

    /// Changes to the given names.
    public init(locks: Set<String> = [], records: Set<String> = [], everything: Bool = false) {
        self.locks = locks
        self.records = records
        self.everything = everything
    }

    /// Whether nothing changed.
    public var isEmpty: Bool { locks.isEmpty && records.isEmpty && !everything }
}
