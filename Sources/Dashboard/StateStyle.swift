import LockMonitor

/// How the dashboard shows a lock state: its label, its colour and where the state sort puts it.
/// The one table of them (gitui's `style.rs`); a row without a lock has the style of `nil`.
public struct StateStyle: Equatable, Sendable {
    /// Readable without colour: the states that need attention in capitals.
    public let label: String
    /// The colour.
    public let role: ColorRole
    /// The state sort's rank: what needs attention first.
    public let rank: Int

    /// Whether the state needs someone (expired, stale, unreadable, suspect): drawn bold.
    public var needsAttention: Bool { rank < 4 }

    /// The style of `state`.
    public static func of(_ state: LockState?) -> StateStyle {
        switch state {
        case .expired?: return StateStyle(label: "EXPIRED", role: .expired, rank: 0)
        case .stale?: return StateStyle(label: "STALE", role: .stale, rank: 1)
        case .unreadable?: return StateStyle(label: "UNREADABLE", role: .unreadable, rank: 2)
        case .suspect?: return StateStyle(label: "SUSPECT", role: .suspect, rank: 3)
        case .writing?: return StateStyle(label: "writing", role: .writing, rank: 4)
        case .held?: return StateStyle(label: "held", role: .held, rank: 5)
        case nil: return StateStyle(label: "-", role: .dim, rank: 6)
        }
    }

    /// The style of a verdict: a lock held by a process nobody can judge is `held?`, not a healthy green.
    public static func of(_ verdict: LockClassification) -> StateStyle {
        of(verdict.state, heldByUnknownProcess: verdict.isHeldByUnknownProcess)
    }

    /// The style of a row, as of its verdict; a lock kept for a moment after its release is `free`.
    public static func of(_ row: LockRow) -> StateStyle {
        if row.releasedAt != nil { return StateStyle(label: "free", role: .dim, rank: 6) }
        return of(row.state, heldByUnknownProcess: row.isHeldByUnknownProcess)
    }

    private static func of(_ state: LockState?, heldByUnknownProcess: Bool) -> StateStyle {
        guard heldByUnknownProcess else { return of(state) }
        return StateStyle(label: "held?", role: .unknown, rank: of(state).rank)
    }
}
