import Foundation
import RecordStore

/// Something that happened to a lock, as the monitor saw it.
public struct MonitorEvent: Equatable, Sendable {
    /// What kind of change.
    public enum Kind: String, Sendable {
        /// A lock file appeared, or got a new holder.
        case acquired
        /// A lock file went away.
        case released
        /// A lock was seen passing its expiration.
        case expired
        /// An operator broke the lock (this locktop, another one, or `release --force`).
        case broken
        /// The same holder rewrote the lock (a renewal) or it became unreadable.
        case changed
        /// The lock became stale: its holder is proven dead (gone, its pid reused, or seen dying).
        case stale
        /// The lock became suspect: held too long by a holder nobody can judge.
        case suspect
        /// The lock file stayed empty or garbled past the grace period.
        case unreadable
        /// A process began waiting for the lock (fanotify saw it read the lock again and again).
        case waiting
        /// A waiter stopped waiting: it took the lock, or it stopped reading it (it gave up or ended).
        case waited
        /// Processes have waited longer than `--blocked-after` behind a dead or unknown holder.
        case blocked
        /// Processes wait for each other's locks in a cycle (the wait-for graph); reported once per cycle.
        case deadlock
        /// A watched directory vanished.
        case directoryMissing = "directory_missing"
        /// A watched directory came back and was rescanned.
        case directoryRestored = "directory_restored"
        /// A watched directory's path leads to another file than the directory opened: it, or a
        /// parent, was swapped or recreated. Breaks are refused there until locktop starts again.
        case directoryReplaced = "directory_replaced"
        /// The inotify queue overflowed and everything was rescanned.
        case rescanned
        /// The Redis server went away; locktop reconnects with back-off.
        case disconnected
        /// The Redis server is back and every lock was read again.
        case reconnected

        /// The event that announces a lock entering `state`, for the states that are announced.
        public init?(announcing state: LockState) {
            switch state {
            case .stale: self = .stale
            case .suspect: self = .suspect
            case .unreadable: self = .unreadable
            case .held, .expired, .writing: return nil
            }
        }
    }

    /// When it was seen.
    public var time: Date
    /// What happened.
    public var kind: Kind
    /// The lock key (the lock file name without `.lock`), or the directory for directory events.
    public var key: String
    /// The holder after the change, when there is one.
    public var holder: String?
    /// The holder before the change, when there was one.
    public var previousHolder: String?
    /// More words, when useful.
    public var detail: String?
    /// Why a broken lock was broken, from the audit log.
    public var reason: String?
    /// Who broke a broken lock: `user@host:pid` from the audit log, or `pid N` from the aside name.
    public var brokenBy: String?
    /// The process the event is about: the waiter of a `waiting` or `waited` event, the taker of an
    /// `acquired` one.
    public var processID: Int32?
    /// The host of ``processID``, when it is known.
    public var hostName: String?
    /// The lock's expiration, for `acquired`, `changed` and `expired` (nil: never expires).
    public var expiresAt: Date?
    /// How long the lock was held, for `released` and `broken`.
    public var heldSeconds: TimeInterval?
    /// How long the waiter waited, for `waited`.
    public var waitedSeconds: TimeInterval?
    /// Whether the waiter took the lock, for `waited`.
    public var tookLock: Bool?
    /// The cycle, for `deadlock`.
    public var deadlock: WaitForGraph.Deadlock?
    /// The directory opened and what its path leads to now, for `directory_replaced`.
    public var replacement: DirectoryReplacement?
    /// The record keys that map to the event's lock file, when known: `task.b` and `task.c` for
    /// `task.lock`, which people call by those names, as the dashboard's rows do.
    public var records: [String] = []

    /// Whether the event is about one lock (its key a lock's stem), not a directory or a server.
    public var isAboutALock: Bool {
        switch kind {
        case .directoryMissing, .directoryRestored, .directoryReplaced, .rescanned, .disconnected, .reconnected:
            return false
        case .acquired, .released, .expired, .broken, .changed, .stale, .suspect, .unreadable, .waiting, .waited,
            .blocked, .deadlock:
            return true
        }
    }

    /// Whether the event is about a lock's expiration, so `expires_at` belongs in its JSON even when null.
    public var carriesExpiration: Bool { kind == .acquired || kind == .changed || kind == .expired }

    /// Creates an event.
    /// The `broken` event of the break `audit` logged, of the lock `key`: its holder is the one the
    /// line names (`holder` when it names none).
    public static func broken(
        by audit: AuditLog.Entry, key: String, holder: String? = nil, detail: String?, at time: Date
    ) -> MonitorEvent {
        MonitorEvent(
            time: time, kind: .broken, key: key, previousHolder: audit.oldHolder ?? holder, detail: detail,
            reason: audit.reason, brokenBy: audit.brokenBy)
    }

    public init(
        time: Date, kind: Kind, key: String, holder: String? = nil, previousHolder: String? = nil,
        detail: String? = nil,
        reason: String? = nil, brokenBy: String? = nil, processID: Int32? = nil, hostName: String? = nil,
        replacement: DirectoryReplacement? = nil
    ) {
        self.time = time
        self.kind = kind
        self.key = key
        self.holder = holder
        self.previousHolder = previousHolder
        self.detail = detail
        self.reason = reason
        self.brokenBy = brokenBy
        self.processID = processID
        self.hostName = hostName
        self.replacement = replacement
    }
}
