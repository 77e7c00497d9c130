import Foundation
import RecordStore

/// A lock's state with the facts behind it.
public struct LockClassification: Equatable, Sendable {
    /// The one state.
    public var state: LockState
    /// Whether the holder's process lives, as far as this host can tell.
    public var liveness: Liveness
    /// Why the lock is in this state, in words.
    public var reason: String
    /// Where the holder's process was learned from.
    public var identitySource: IdentitySource = .none

    public init(state: LockState, liveness: Liveness, reason: String, identitySource: IdentitySource = .none) {
        self.state = state
        self.liveness = liveness
        self.reason = reason
        self.identitySource = identitySource
    }

    /// The reason an operator's break of a lock so judged goes to the audit log with: `expired: expired 12s ago`,
    /// or `forced: held` when `force` broke a lock that needed it.
    public func breakReason(force: Bool) -> String {
        let why = reason == state.rawValue ? state.rawValue : "\(state.rawValue): \(reason)"
        return force && !state.isBreakableWithoutForce ? "forced: \(why)" : why
    }

    /// The reason of a held lock whose holder's process cannot be judged from this host.
    public static let unknownHolderReason = "holder process unknown"
}

/// Puts each lock in exactly one state, from an injected clock, host name and process table.
public struct LockClassifier: Sendable {
    /// A lock held longer than this is stale.
    public var staleAfter: TimeInterval
    /// How long an empty or garbled lock counts as being written.
    public var gracePeriod: TimeInterval

    /// Creates a classifier.
    public init(staleAfter: TimeInterval = 3600, gracePeriod: TimeInterval = 2) {
        self.staleAfter = staleAfter
        self.gracePeriod = gracePeriod
    }

    /// Classifies `lock` at `now`. `creator`, the process fanotify saw write the lock file, judges
    /// a holder whose lock file names no process (a Prefect transaction's UUID).
    public func classify(_ lock: LockEntry, now: Date, environment: MonitorEnvironment, creator: ProcessDetails? = nil) -> LockClassification {
        var classification = judge(lock, now: now, environment: environment, creator: creator)
        if let content = lock.content { classification.identitySource = Self.identitySource(of: content, creator: creator) }
        return classification
    }

    private func judge(_ lock: LockEntry, now: Date, environment: MonitorEnvironment, creator: ProcessDetails?) -> LockClassification {
        let age = now.timeIntervalSince(lock.acquired)
        guard let content = lock.content else {
            if lock.isSymbolicLink {
                return LockClassification(state: .unreadable, liveness: .unknown, reason: "the lock file is a symbolic link")
            }
            if lock.nameIsEscaped {
                return LockClassification(state: .unreadable, liveness: .unknown, reason: "the lock file name is not UTF-8")
            }
            if let readError = lock.readError {
                return LockClassification(state: .unreadable, liveness: .unknown, reason: "this user cannot read it: \(readError)")
            }
            if age < gracePeriod {
                return LockClassification(state: .writing, liveness: .unknown, reason: "empty or partial, probably being written")
            }
            let what = lock.bytes.isEmpty ? (lock.status.size > 0 ? "too large to read" : "empty") : "not valid lock JSON"
            return LockClassification(state: .unreadable, liveness: .unknown, reason: "\(what) for \(DurationText.format(age))")
        }
        let liveness = Self.liveness(of: content, environment: environment, creator: creator)
        if let expiration = content.expiration, expiration < now {
            return LockClassification(state: .expired, liveness: liveness,
                                      reason: "expired \(DurationText.format(now.timeIntervalSince(expiration))) ago")
        }
        let pid = content.namedProcess.processID ?? 0
        if let creator, Self.identitySource(of: content, creator: creator) == .fanotify, liveness == .dead || liveness == .reused {
            let ago = creator.lastSeenAlive.map { " \(DurationText.format(now.timeIntervalSince($0))) ago" } ?? ""
            return LockClassification(state: .stale, liveness: liveness,
                                      reason: "holder pid \(creator.processID) (\(creator.shortCommand)) died\(ago)")
        }
        switch liveness {
        case .dead:
            return LockClassification(state: .stale, liveness: liveness, reason: "holder process \(pid) is gone")
        case .reused:
            return LockClassification(state: .stale, liveness: liveness, reason: "holder pid \(pid) now belongs to another process")
        case .alive, .unknown:
            if age > staleAfter {
                return LockClassification(state: .stale, liveness: liveness,
                                          reason: "held for \(DurationText.format(age)), over the \(DurationText.format(staleAfter)) stale age")
            }
            // Never "held, held": a live holder's reason says which process it is.
            let holderPID = creator?.processID ?? pid
            let alive = holderPID > 0 ? "holder pid \(holderPID) is alive" : "holder is alive"
            return LockClassification(state: .held, liveness: liveness,
                                      reason: liveness == .alive ? alive : LockClassification.unknownHolderReason)
        }
    }

    /// When time alone next changes the `state` judged for `lock`: a lock being written turns unreadable
    /// at the end of the grace period; a held lock expires, or turns stale at the stale age. Expired, stale
    /// and unreadable locks stay so until their file changes. (A holder process dying is not a time:
    /// locks naming a process are judged again on their own schedule.)
    public func nextStateChange(of lock: LockEntry, judged state: LockState) -> Date? {
        // The states change strictly after these instants (`expiration < now`, `age > staleAfter`).
        let justAfter: TimeInterval = 0.001
        switch state {
        case .writing:
            return lock.acquired.addingTimeInterval(gracePeriod)
        case .held:
            let staleAge = lock.acquired.addingTimeInterval(staleAfter)
            return min(lock.content?.expiration ?? staleAge, staleAge).addingTimeInterval(justAfter)
        case .expired, .stale, .unreadable:
            return nil
        }
    }

    /// Judges the holder's process. Only a holder on this host with a pid can be judged; the lock's
    /// own `host`/`pid`/`process_start_ticks` fields win over the parsed holder string, which wins
    /// over `creator`, the process seen writing the lock file.
    public static func liveness(of content: LockFileContent, environment: MonitorEnvironment, creator: ProcessDetails? = nil) -> Liveness {
        var (host, pid) = content.namedProcess
        var recordedTicks = content.processStartTicks
        if pid == nil, let creator {
            (host, pid, recordedTicks) = (creator.hostName, creator.processID, creator.startTicks)
        }
        guard let host, let pid, host == environment.hostName else { return .unknown }
        switch environment.processStartTicks(pid) {
        case .missing:
            return .dead
        case let .running(startTicks):
            if let recordedTicks, let startTicks, recordedTicks != startTicks { return .reused }
            return .alive
        }
    }

    /// Where the holder's process of `content` comes from.
    public static func identitySource(of content: LockFileContent, creator: ProcessDetails?) -> IdentitySource {
        if content.processID != nil { return .lockFile }
        if LockHolder(content.holder).processID != nil { return .holderString }
        return creator == nil ? .none : .fanotify
    }
}
