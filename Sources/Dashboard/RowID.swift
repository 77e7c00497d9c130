/// Which thing a dashboard row shows: a lock (by its file name, or its Redis entry's name), or a
/// record that has no lock (by its key). The selection, patches and the detail pane follow it.
public enum RowID: Hashable, Sendable, Comparable {
    case lock(String)
    case record(String)

    /// The lock file name of a lock row; nil for a record's.
    public var lockName: String? {
        if case .lock(let name) = self { return name }
        return nil
    }

    /// The key of a record row; nil for a lock's.
    public var recordKey: String? {
        if case .record(let key) = self { return key }
        return nil
    }

    /// Lock rows before record rows, each by name: the sorts' last tie-break.
    public static func < (lhs: RowID, rhs: RowID) -> Bool {
        switch (lhs, rhs) {
        case (.lock(let left), .lock(let right)), (.record(let left), .record(let right)): return left < right
        case (.lock, .record): return true
        case (.record, .lock): return false
        }
    }
}
