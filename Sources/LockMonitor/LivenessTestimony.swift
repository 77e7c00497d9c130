import Foundation

/// One source's word on whether a lock's holder lives: what it says, when it was observed, and
/// why. A verdict lists every testimony it weighed (`evidence` in `list --json`), and names the
/// one that decided it (``LockClassification/judgedBy``).
public struct LivenessTestimony: Equatable, Sendable {
    /// Where a testimony comes from, strongest first among the remote ones.
    public enum Source: String, Sendable, CaseIterable {
        /// fanotify on this host saw the holder write the lock file; `/proc` judges it.
        case fanotify
        /// The lock file's own `host`/`pid` fields, judged by this host's `/proc`.
        case lockFile = "lock-file"
        /// A `host:pid:thread_id:thread_name` holder, judged by this host's `/proc`.
        case holderString = "holder-string"
        /// Another host's agent (`locktop agent`), which watched the holder there.
        case agent
        /// The Prefect helper's heartbeat, aged by the shared storage's clock.
        case heartbeat
        /// The state of the lock's flow run in Prefect's API.
        case prefectAPI = "prefect-api"
        /// Nothing: a UUID holder nobody watched.
        case none
    }

    /// What a testimony says of the holder.
    public enum Verdict: String, Sendable {
        case alive
        case dead
        /// It was asked and could not tell (a silent agent, a pending run).
        case unknown
    }

    /// Where it comes from.
    public var source: Source
    /// What it says.
    public var verdict: Verdict
    /// When what it says was last true, by this host's clock.
    public var observedAt: Date
    /// Why, in words: `heartbeat of pid 4242 on worker-b expired 9s ago`.
    public var reason: String

    /// Creates a testimony.
    public init(source: Source, verdict: Verdict, observedAt: Date, reason: String) {
        self.source = source
        self.verdict = verdict
        self.observedAt = observedAt
        self.reason = reason
    }

    /// The decision the remote testimonies make together, and the disagreement to warn of; nil when
    /// none can decide. An agent, which watched the process, outranks a heartbeat, which outranks
    /// the API; a weaker source that disagrees becomes the warning (a fresh heartbeat but a CRASHED
    /// run is alive, with the run named).
    public static func decision(among testimonies: [LivenessTestimony]) -> (
        decisive: LivenessTestimony, warning: String?
    )? {
        let ranked = [Source.agent, .heartbeat, .prefectAPI]
        let decisive = ranked.lazy.compactMap { source in
            testimonies.first { $0.source == source && $0.verdict != .unknown }
        }.first
        guard let decisive else { return nil }
        let dissent = testimonies.first { $0.verdict != .unknown && $0.verdict != decisive.verdict }
        return (decisive, dissent.map { "but \($0.reason)" })
    }
}

extension LivenessTestimony.Source {
    /// The source of this host's own judgement of a holder learned from `identity`.
    public init(_ identity: IdentitySource) {
        switch identity {
        case .fanotify: self = .fanotify
        case .lockFile: self = .lockFile
        case .holderString: self = .holderString
        case .none: self = .none
        }
    }
}
