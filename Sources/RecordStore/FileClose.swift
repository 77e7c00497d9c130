import Foundation

/// One close of a file in a watched directory, with the process that had it open.
public struct FileClose: Equatable, Sendable {
    /// The pid of the process that closed the file.
    public var processID: Int32
    /// The file's directory.
    public var directory: String
    /// The file name.
    public var name: String
    /// Which file it was: device and inode.
    public var file: FileKey
    /// Whether it had been opened for writing.
    public var wrote: Bool
    /// Whether the kernel said the process had exited by the time the close was read: its pid
    /// may already name another process, so `/proc` says nothing of it.
    public var processExited = false
}
