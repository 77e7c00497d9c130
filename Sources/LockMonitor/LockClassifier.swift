import Foundation
import RecordStore

/// A lock's one verdict: its state, with the facts behind it. Every surface (rows, dialogs,
/// `list`, `--check`, `break`, `release`, events, the audit line) reads this and nothing else.
public struct LockClassification: Equatable, Sendable {
    /// The one state.
    public var state: LockState
    /// Whether the holder's process lives, as far as this host can tell.
    public var liveness: Liveness
    /// Why the lock is in this state, in words.
    public var reason: String
    /// Where the holder's process was learned from.
    public var identitySource: IdentitySource = .none
    /// How many processes wait behind a holder not known to be alive for `--blocked-after` or longer.
    public var blockedWaiters = 0
    /// How long the longest of those has waited.
    public var blockedFor: TimeInterval?
    /// The evidence that decided the verdict: this host's `/proc` (through fanotify, the lock
    /// file or its holder string), another host's agent, a heartbeat, Prefect's API, or nothing.
    public var judgedBy: LivenessTestimony.Source = .none
    /// Every testimony weighed, this host's own first (`evidence` in `list --json`).
    public var evidence: [LivenessTestimony] = []
    /// The holder's host, when anything names it.
    public var holderHost: String?

    public init(state: LockState, liveness: Liveness, reason: String, identitySource: IdentitySource = .none) {
        self.state = state
        self.liveness = liveness
        self.reason = reason
        self.identitySource = identitySource
    }

    /// Whether it is held by a process this host cannot judge: shown `held?`, never a healthy `held`.
    public var isHeldByUnknownProcess: Bool { state == .held && liveness != .alive }

    /// The verdict's name for people and metrics: the state, with `held?` for a holder nobody can judge.
    public var label: String { isHeldByUnknownProcess ? "held?" : state.rawValue }

    /// The verdict's name for machines (`verdict` in JSON, a metric's `state` label): the state, with
    /// `held_unknown` for a holder nobody can judge.
    public var verdictName: String { isHeldByUnknownProcess ? "held_unknown" : state.rawValue }

    /// Whether waiters are blocked behind it: a holder not known to be alive, and waiting for `--blocked-after`.
    public var isBlocking: Bool { blockedWaiters > 0 }

    /// The reason an operator's break of a lock so judged goes to the audit log with: `stale: holder
    /// pid 9384 (python worker.py) died 10s ago`, or `forced: held: holder pid 77 is alive` when
    /// `authority` went beyond what the state needs.
    public func breakReason(authority: BreakAuthority) -> String {
        let why = "\(state.rawValue): \(reason)"
        return authority == .forced && state.breakAuthority == .forced ? "forced: \(why)" : why
    }

    /// The reason of a held lock whose holder's process cannot be judged from this host.
    public static let unknownHolderReason = "holder process unknown"
}

/// Puts each lock in exactly one state, from its file, its ``LockEvidence``, and an injected
/// clock, host name and process table. `stale` means proven dead; age alone makes `suspect`.
public struct LockClassifier: Sendable {
    /// The default `--stale-after`: past it, a lock whose holder nobody can judge is suspect.
    public static let defaultStaleAfter: TimeInterval = 3600
    /// The default `--blocked-after`.
    public static let defaultBlockedAfter: TimeInterval = 60
    /// A polled lock held longer than this many times its usual (p95) hold is suspect.
    public static let historyFactor: Double = 10
    /// ... but never sooner than this.
    public static let historyFloor: TimeInterval = 60

    /// A lock held longer than this, by a holder nobody can judge, is suspect.
    public var staleAfter: TimeInterval
    /// How long an empty or garbled lock counts as being written.
    public var gracePeriod: TimeInterval
    /// Waiters behind a holder not known to be alive for this long are blocked.
    public var blockedAfter: TimeInterval

    /// Creates a classifier.
    public init(
        staleAfter: TimeInterval = defaultStaleAfter,
        gracePeriod: TimeInterval = FileSystemRecordStore.defaultGracePeriod,
        blockedAfter: TimeInterval = defaultBlockedAfter
    ) {
        self.staleAfter = staleAfter
        self.gracePeriod = gracePeriod
        self.blockedAfter = blockedAfter
    }

    /// Judges `lock` at `now` from its file and `evidence`.
    public func classify(_ lock: LockEntry, now: Date, environment: MonitorEnvironment, evidence: LockEvidence = .none)
        -> LockClassification
    {
        var classification = judge(lock, now: now, environment: environment, evidence: evidence)
        if let content = lock.content {
            classification.identitySource = Self.identitySource(of: content, creator: evidence.creator)
            classification.holderHost =
                content.namedProcess.hostName ?? evidence.creator?.hostName ?? evidence.reportedHolder?.hostName
        }
        let local = LivenessTestimony.Source(classification.identitySource)
        classification.evidence = Self.weighed(classification, local: local, evidence: evidence, at: now)
        if classification.judgedBy == .none, classification.liveness != .unknown { classification.judgedBy = local }
        let canBlock = classification.liveness != .alive && [.held, .suspect, .stale].contains(classification.state)
        if canBlock, let longest = evidence.waiters.first, now.timeIntervalSince(longest.since) >= blockedAfter {
            classification.blockedWaiters = evidence.waiters.count
            classification.blockedFor = now.timeIntervalSince(longest.since)
        }
        return classification
    }

    private func judge(_ lock: LockEntry, now: Date, environment: MonitorEnvironment, evidence: LockEvidence)
        -> LockClassification
    {
        let age = now.timeIntervalSince(lock.acquired)
        guard let content = lock.content else {
            if lock.isSymbolicLink {
                return LockClassification(
                    state: .unreadable, liveness: .unknown, reason: "the lock file is a symbolic link")
            }
            if lock.nameIsEscaped {
                return LockClassification(
                    state: .unreadable, liveness: .unknown,
                    reason: "the lock file name needs escaping: it is not plain UTF-8 text")
            }
            if let readError = lock.readError {
                return LockClassification(
                    state: .unreadable, liveness: .unknown, reason: "this user cannot read it: \(readError)")
            }
            if age < gracePeriod {
                return LockClassification(
                    state: .writing, liveness: .unknown, reason: "empty or partial, probably being written")
            }
            let what =
                lock.bytes.isEmpty ? (lock.status.size > 0 ? "too large to read" : "empty") : "not valid lock JSON"
            return LockClassification(
                state: .unreadable, liveness: .unknown, reason: "\(what) for \(DurationText.format(age))")
        }
        let creator = evidence.creator
        let disowned = Self.disownedClaim(of: content, fileOwner: lock.status.owner, environment: environment)
        let holderLiveness =
            disowned == nil ? Self.liveness(of: content, environment: environment, creator: creator) : .unknown
        // A holder gone while its guardian runs may have left its command's group running: not stale yet.
        let guardian =
            holderLiveness == .dead || holderLiveness == .reused
            ? Self.livingGuardian(of: content, fileOwner: lock.status.owner, environment: environment) : nil
        let liveness = guardian == nil ? holderLiveness : .alive
        if let expiration = content.expiration, expiration < now {
            return LockClassification(
                state: .expired, liveness: liveness,
                reason: "expired \(DurationText.format(now.timeIntervalSince(expiration))) ago")
        }
        if let disowned {
            // A file may name only its owner's processes (root's may name any): pid 1 in a worker's file proves nothing.
            return LockClassification(
                state: age > staleAfter ? .suspect : .held, liveness: .unknown,
                reason:
                    "the lock file of uid \(disowned.fileOwner) names pid \(disowned.pid) of uid \(disowned.processOwner); not believed"
            )
        }
        let named = content.namedProcess
        let pid = named.processID
        if let creator, Self.identitySource(of: content, creator: creator) == .fanotify,
            liveness == .dead || liveness == .reused
        {
            if creator.exitedBeforeSeen {
                return LockClassification(
                    state: .stale, liveness: liveness,
                    reason: "holder pid \(creator.processID) died: it had exited when its write of the lock was read")
            }
            let ago = creator.lastSeenAlive.map { " \(DurationText.format(now.timeIntervalSince($0))) ago" } ?? ""
            return LockClassification(
                state: .stale, liveness: liveness,
                reason: "holder pid \(creator.processID) (\(creator.shortCommand)) died\(ago)")
        }
        switch liveness {
        case .dead:
            return LockClassification(state: .stale, liveness: liveness, reason: "holder process \(pid ?? 0) is gone")
        case .reused:
            return LockClassification(
                state: .stale, liveness: liveness, reason: "holder pid \(pid ?? 0) now belongs to another process")
        case .alive:
            // Proven alive: held whatever its age, and broken only with --force.
            if let guardian {
                return LockClassification(
                    state: .held, liveness: liveness,
                    reason:
                        "holder pid \(pid ?? 0) is gone, but its watchdog pid \(guardian) is alive: its command's group may still run"
                )
            }
            let holderPID = pid ?? creator?.processID
            let dissent = evidence.testimonies.first { $0.verdict == .dead }.map { "; but \($0.reason)" } ?? ""
            return LockClassification(
                state: .held, liveness: liveness,
                reason: (holderPID.map { "holder pid \($0) is alive" } ?? "holder is alive") + dissent)
        case .unknown:
            if let (decisive, warning) = LivenessTestimony.decision(among: evidence.testimonies) {
                var judged = LockClassification(
                    state: decisive.verdict == .alive ? .held : .stale,
                    liveness: decisive.verdict == .alive ? .alive : .dead,
                    reason: decisive.reason + (warning.map { "; \($0)" } ?? ""))
                judged.judgedBy = decisive.source
                return judged
            }
            let undecided = evidence.testimonies.first { $0.source == .agent }?.reason
            if age > staleAfter {
                return LockClassification(
                    state: .suspect, liveness: liveness,
                    reason:
                        "held \(DurationText.format(age)), longer than --stale-after \(DurationText.format(staleAfter)); nothing shows its holder dead"
                )
            }
            if let limit = historyLimit(evidence), age > limit {
                let typical = DurationText.format(evidence.typicalHold ?? 0)
                return LockClassification(
                    state: .suspect, liveness: liveness,
                    reason:
                        "held \(DurationText.format(age)) with waiters polling, over \(Int(Self.historyFactor))x its usual hold of \(typical); nothing shows its holder dead"
                )
            }
            if let undecided {
                return LockClassification(state: .held, liveness: liveness, reason: undecided)
            }
            if let host = named.hostName, host != environment.hostName {
                return LockClassification(
                    state: .held, liveness: liveness,
                    reason: "holder on \(host) cannot be checked from this host")
            }
            return LockClassification(state: .held, liveness: liveness, reason: LockClassification.unknownHolderReason)
        }
    }

    /// The testimonies behind `judged`: this host's own (from its `/proc`, when it could judge the
    /// holder, or that it could not), then the remote ones. Sets who decided, when this host did.
    private static func weighed(
        _ judged: LockClassification, local: LivenessTestimony.Source, evidence: LockEvidence, at now: Date
    ) -> [LivenessTestimony] {
        let decidedHere = judged.judgedBy == .none && judged.liveness != .unknown
        let verdict: LivenessTestimony.Verdict =
            !decidedHere ? .unknown : judged.liveness == .alive ? .alive : .dead
        var weighed = evidence.testimonies
        if local != .none || weighed.isEmpty {
            let reason = decidedHere ? judged.reason : "cannot be judged from this host"
            weighed.insert(LivenessTestimony(source: local, verdict: verdict, observedAt: now, reason: reason), at: 0)
        }
        return weighed
    }

    /// How long a polled lock may be held, from its own history, before it is suspect; nil without one.
    private func historyLimit(_ evidence: LockEvidence) -> TimeInterval? {
        guard evidence.isPolled, let typical = evidence.typicalHold else { return nil }
        return max(Self.historyFactor * typical, Self.historyFloor)
    }

    /// When time alone next changes the verdict judged for `lock` with `evidence`: a lock being
    /// written turns unreadable at the end of the grace period; a held lock expires, or a held
    /// lock nobody can judge turns suspect; a suspect expires; waiters become blocked.
    /// (A holder process dying is not a time: locks naming a process are judged again on their own schedule.)
    public func nextStateChange(of lock: LockEntry, judged: LockClassification, evidence: LockEvidence = .none) -> Date?
    {
        // The states change strictly after these instants (`expiration < now`, `age > staleAfter`).
        let justAfter: TimeInterval = 0.001
        var moments: [Date] = []
        switch judged.state {
        case .writing:
            return lock.acquired.addingTimeInterval(gracePeriod)
        case .held:
            if let expiration = lock.content?.expiration { moments.append(expiration) }
            if judged.liveness != .alive {
                moments.append(lock.acquired.addingTimeInterval(staleAfter))
                if let limit = historyLimit(evidence) { moments.append(lock.acquired.addingTimeInterval(limit)) }
            }
        case .suspect:
            if let expiration = lock.content?.expiration { moments.append(expiration) }
        case .expired, .stale, .unreadable:
            break
        }
        if !judged.isBlocking, judged.liveness != .alive, let longest = evidence.waiters.first {
            moments.append(longest.since.addingTimeInterval(blockedAfter))
        }
        return moments.min()?.addingTimeInterval(justAfter)
    }

    /// Judges the holder's process. Only a holder on this host with a pid can be judged; the lock's
    /// own `host`/`pid`/`process_start_ticks` fields win over the parsed holder string, which wins
    /// over `creator`, the process seen writing the lock file.
    public static func liveness(
        of content: LockFileContent, environment: MonitorEnvironment, creator: ProcessDetails? = nil
    ) -> Liveness {
        var (host, pid) = content.namedProcess
        var recordedTicks = content.processStartTicks
        if pid == nil, let creator {
            (host, pid, recordedTicks) = (creator.hostName, creator.processID, creator.startTicks)
            if creator.exitedBeforeSeen { return host == environment.hostName ? .dead : .unknown }
        }
        guard let host, let pid, host == environment.hostName else { return .unknown }
        switch environment.processStartTicks(pid) {
        case .missing:
            return .dead
        case .running(let startTicks, _):
            if let recordedTicks, let startTicks, recordedTicks != startTicks { return .reused }
            return .alive
        }
    }

    /// The guardian pid the lock file names (``LockFileContent/guardianProcessID``) when it runs
    /// here, is the process recorded (same start), and runs under the file's owner (any uid for
    /// root's file); nil otherwise.
    public static func livingGuardian(of content: LockFileContent, fileOwner: UInt32, environment: MonitorEnvironment)
        -> Int32?
    {
        guard let pid = content.guardianProcessID, content.namedProcess.hostName == environment.hostName,
            case .running(let startTicks, let owner) = environment.processStartTicks(pid)
        else { return nil }
        if let recorded = content.guardianStartTicks, let startTicks, recorded != startTicks { return nil }
        if fileOwner != 0 && owner != fileOwner { return nil }
        return pid
    }

    /// The pid the lock file names (its own fields or its holder string) when that process runs
    /// here under another uid than the file's owner, and the owner is not root: a claim the file's
    /// owner could not have made of its own process. Nil when the claim stands, or cannot be checked.
    public static func disownedClaim(of content: LockFileContent, fileOwner: UInt32, environment: MonitorEnvironment)
        -> (pid: Int32, fileOwner: UInt32, processOwner: UInt32)?
    {
        let (host, pid) = content.namedProcess
        guard fileOwner != 0, let pid, host == environment.hostName,
            case .running(_, let owner?) = environment.processStartTicks(pid), owner != fileOwner
        else { return nil }
        return (pid, fileOwner, owner)
    }

    /// Where the holder's process of `content` comes from.
    public static func identitySource(of content: LockFileContent, creator: ProcessDetails?) -> IdentitySource {
        if content.processID != nil { return .lockFile }
        if LockHolder(content.holder).processID != nil { return .holderString }
        return creator == nil ? .none : .fanotify
    }
}
