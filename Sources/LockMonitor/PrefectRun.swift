import RecordStore

/// The Prefect task and flow run a lock belongs to, from the evidence that names them: the Prefect
/// helper's fields in the lock file, and the holder's `PREFECT__FLOW_RUN_ID` in its environment.
/// A cache key (a 32-hex hash) says nothing to an operator; these names do.
public struct PrefectRun: Equatable, Sendable {
    /// The task's name (`slow_double`).
    public var taskName: String?
    /// The task run's name (`slow_double-3e1`).
    public var taskRunName: String?
    /// The task run's id.
    public var taskRunID: String?
    /// The flow run's name (`crimson-fox`).
    public var flowRunName: String?
    /// The flow run's id.
    public var flowRunID: String?

    /// Creates run names.
    public init(
        taskName: String? = nil, taskRunName: String? = nil, taskRunID: String? = nil, flowRunName: String? = nil,
        flowRunID: String? = nil
    ) {
        self.taskName = taskName
        self.taskRunName = taskRunName
        self.taskRunID = taskRunID
        self.flowRunName = flowRunName
        self.flowRunID = flowRunID
    }

    /// The names the lock's `content` and its holder's `process` give, nil when neither names any.
    public init?(content: LockFileContent?, process: ProcessDetails?) {
        self.init(
            taskName: content?.taskName, taskRunName: content?.taskRunName, taskRunID: content?.taskRunID,
            flowRunName: content?.flowRunName, flowRunID: content?.flowRunID ?? process?.flowRunID)
        if self == PrefectRun() { return nil }
    }

    /// The most telling short name: the task's, else its run's, else the flow run's, else the
    /// start of the flow run's id.
    public var shortName: String {
        taskName ?? taskRunName ?? flowRunName.map { "flow \($0)" } ?? flowRunID.map { "flow \($0.prefix(8))" } ?? ""
    }

    /// One line for the detail pane: `task slow_double (run slow_double-3e1, id 5f…) in flow run
    /// crimson-fox (id 0b7…)`, or `flow run id 0b7…`, with what is known.
    public var description: String {
        var parts: [String] = []
        if let taskName {
            let inner = [taskRunName.map { "run \($0)" }, taskRunID.map { "id \($0)" }].compactMap { $0 }
            parts.append("task \(taskName)" + (inner.isEmpty ? "" : " (\(inner.joined(separator: ", ")))"))
        } else if let taskRun = taskRunName ?? taskRunID.map({ "id \($0)" }) {
            parts.append("task run \(taskRun)" + (taskRunName != nil ? taskRunID.map { " (id \($0))" } ?? "" : ""))
        }
        if let flowRunName {
            parts.append("flow run \(flowRunName)" + (flowRunID.map { " (id \($0))" } ?? ""))
        } else if let flowRunID {
            parts.append("flow run id \(flowRunID)")
        }
        return parts.joined(separator: " in ")
    }
}
