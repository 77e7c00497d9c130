import Foundation
import RecordStore

/// Lock files locktop renamed aside (`.locktop-PID-R.kind`) on a release, an expired lock cleared
/// or a break: each lock is judged once its aside goes, so the event says how it left.
struct AsideTracker {
    /// One lock taken aside.
    struct Pending: Equatable {
        var lockName: String
        var removal: LockFiles.Removal
        var processID: Int32
        var since: Date
    }

    /// How long a lock may sit aside before it is judged without waiting for the aside to go.
    static let timeout: TimeInterval = 1

    private var pending: [String: Pending] = [:]
    private var asideOfLock: [String: String] = [:]

    /// Notes the aside `name` of `lockName`, when its name says a locktop removal.
    mutating func arrive(_ name: String, lockName: String, at now: Date) {
        guard let (removal, processID) = LockFiles.Removal.parse(asideName: name) else { return }
        pending[name] = Pending(lockName: lockName, removal: removal, processID: processID, since: now)
        asideOfLock[lockName] = name
    }

    /// Takes the aside `name` that went: the lock it was, and how it left; nil for an aside not followed.
    mutating func resolve(_ name: String) -> Pending? {
        guard let gone = pending.removeValue(forKey: name) else { return nil }
        if asideOfLock[gone.lockName] == name { asideOfLock[gone.lockName] = nil }
        return gone
    }

    /// The asides that have waited ``timeout`` or longer, sorted.
    func overdue(at now: Date) -> [String] {
        pending.filter { now.timeIntervalSince($0.value.since) >= Self.timeout }.keys.sorted()
    }

    /// Whether the lock `name` sits aside, waiting for its aside to go.
    func isAside(lockName name: String) -> Bool {
        asideOfLock[name] != nil
    }
}
