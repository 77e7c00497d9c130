import Foundation

/// What a watch source found since it was last asked: inotify's events, or one poll. The monitor
/// applies both through the same path.
struct DirectoryChanges: Equatable, Sendable {
    /// A lock file taken aside by locktop (`.locktop-PID-R.kind`), with the lock it was.
    struct AsideArrival: Equatable, Sendable {
        var aside: String
        var lockName: String
    }

    /// Lock files that appeared, went or changed, in the order seen: to be read again.
    var locks: [String] = []
    /// Reads of lock files (an open and close without writing), one per read, for poll pressure.
    var lockReads: [String] = []
    /// Record keys that changed, to be read again.
    var recordsToRead: Set<String> = []
    /// Record keys that changed and were read already (a poll stats them as it looks).
    var recordsRead: Set<String> = []
    /// Watched directories that are gone.
    var lostDirectories: [String] = []
    /// Whether events were lost (the inotify queue overflowed): only a rescan can tell what changed.
    var overflowed = false
    /// Lock files renamed aside by a locktop release or break, and asides that went.
    var asidesArrived: [AsideArrival] = []
    var asidesGone: [String] = []
    /// The raw bytes of the names among ``locks`` that had to be escaped to become text, by escaped name.
    var rawNames: [String: [UInt8]] = [:]

    private var noted: Set<String> = []

    /// Adds `name` to ``locks`` unless it is there.
    mutating func noteLock(_ name: String) {
        if noted.insert(name).inserted { locks.append(name) }
    }
}
