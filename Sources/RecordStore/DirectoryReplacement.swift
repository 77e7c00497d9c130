import Foundation

/// A watched directory's path that no longer leads to the directory opened: it, or a parent, was
/// removed, renamed or swapped (for another directory, or for a symbolic link, which is never followed).
public struct DirectoryReplacement: Equatable, Sendable, CustomStringConvertible {
    /// The path as the operator named it.
    public var path: String
    /// The directory opened.
    public var old: FileKey
    /// What the path leads to now; nil when nothing is there.
    public var new: FileKey?
    /// Whether what is there now is a symbolic link.
    public var isSymbolicLink: Bool

    /// Creates a replacement.
    public init(path: String, old: FileKey, new: FileKey?, isSymbolicLink: Bool) {
        self.path = path
        self.old = old
        self.new = new
        self.isSymbolicLink = isSymbolicLink
    }

    public var description: String {
        let now: String
        if let new {
            now = isSymbolicLink ? "a symbolic link (\(new), not followed)" : "\(new)"
        } else {
            now = "nothing"
        }
        return "\(TerminalText.escaped(path)) was replaced: it was directory \(old), it is \(now) now"
    }
}
