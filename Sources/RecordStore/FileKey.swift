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

extension FileKey: CustomStringConvertible {
    /// `device MAJOR:MINOR inode N`, as `stat -c '%Hd:%Ld %i'` gives them.
    public var description: String { "device \(major):\(minor) inode \(inode)" }

    /// The device's major number (glibc's `major`).
    public var major: UInt64 { (device >> 8) & 0xfff | (device >> 32) & 0xffff_f000 }
    /// The device's minor number (glibc's `minor`).
    public var minor: UInt64 { device & 0xff | (device >> 12) & 0xffff_ff00 }
}
