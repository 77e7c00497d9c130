import Foundation

/// What Prefect's API says of a flow run: its name, its state's type, and since when.
public struct FlowRunState: Equatable, Sendable {
    /// The run's name (`crimson-fox`).
    public var runName: String
    /// The state's type, upper case: `RUNNING`, `CRASHED`, `PENDING`…
    public var type: String
    /// When the run entered it.
    public var since: Date?

    /// Creates a state.
    public init(runName: String, type: String, since: Date?) {
        self.runName = runName
        self.type = type
        self.since = since
    }

    /// The state types after which a run holds nothing: a lock it still has was never released.
    public static let terminalTypes: Set<String> = ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"]

    /// What the state says of a lock's holder: a terminal run is dead, a running one alive, any
    /// other state nothing.
    public func testimony(observedAt: Date, now: Date) -> LivenessTestimony? {
        let run = "flow run \"\(runName)\""
        if Self.terminalTypes.contains(type) {
            let ago = since.map { " \(DurationText.format(max(0, now.timeIntervalSince($0)))) ago" } ?? ""
            return LivenessTestimony(
                source: .prefectAPI, verdict: .dead, observedAt: observedAt,
                reason: "\(run) \(type)\(ago); its lock was never released")
        }
        guard type == "RUNNING" else { return nil }
        return LivenessTestimony(
            source: .prefectAPI, verdict: .alive, observedAt: observedAt, reason: "\(run) is RUNNING")
    }
}

/// Where a monitor learns flow runs' states (Prefect's API, see `PrefectAPI`). Asking never
/// blocks longer than the source allows; an answer not there yet is nil.
public protocol FlowRunStates: Sendable {
    /// The state of the flow run `id`, with when it was fetched; nil when not known (yet).
    func state(ofFlowRun id: String) -> (state: FlowRunState, fetchedAt: Date)?
    /// Why the API cannot be asked now, for a header; nil while it answers.
    var warning: String? { get }
}

extension FlowRunStates {
    /// What the API says of a holder in the flow run `id` at `now`; nil when it says nothing (yet).
    public func testimony(ofFlowRun id: String, now: Date) -> LivenessTestimony? {
        guard let (state, fetchedAt) = state(ofFlowRun: id) else { return nil }
        return state.testimony(observedAt: fetchedAt, now: now)
    }
}
