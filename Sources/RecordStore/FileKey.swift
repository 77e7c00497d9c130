import Foundation

/// Identifies one file across renames: its device and inode.
public struct FileKey: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    /// The key of the file with `status`.
    public init(_ status: FileSystem.Status) {
        self.init(device: status.device, inode: status.inode)
    }
}
