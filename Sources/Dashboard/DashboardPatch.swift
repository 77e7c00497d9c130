import Foundation

/// Rows to add, replace or remove, with the new totals.
public struct DashboardPatch: Equatable, Sendable {
    public var upserts: [LockRow]
    public var removals: Set<String>
    public var recordCount: Int
    public var lockCount: Int
    public var missingDirectories: [String]
    public var watch: String

    /// Creates a patch.
    public init(upserts: [LockRow], removals: Set<String>, recordCount: Int, lockCount: Int,
                missingDirectories: [String] = [], watch: String = "inotify") {
        self.upserts = upserts
        self.removals = removals
        self.recordCount = recordCount
        self.lockCount = lockCount
        self.missingDirectories = missingDirectories
        self.watch = watch
    }

    /// The number of rows it touches.
    public var size: Int { upserts.count + removals.count }
}
