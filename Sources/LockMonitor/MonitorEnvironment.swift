import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// The outside facts the monitor depends on, injectable so classification is tested without sleeping.
public struct MonitorEnvironment: Sendable {
    /// The wall clock.
    public var now: @Sendable () -> Date
    /// This host's name, to tell local holders from remote ones.
    public var hostName: String
    /// Whether a local pid runs, with its start ticks when they can be read.
    public var processStartTicks: @Sendable (Int32) -> ProcessLookup
    /// Prefect's flow-run states, when an API is configured.
    public var flowRunStates: (any FlowRunStates)?
    /// Agents' host reports kept outside the locks directory (Redis), when configured.
    public var hostReports: (any HostReportStore)?

    /// What looking up a local pid found.
    public enum ProcessLookup: Equatable, Sendable {
        case missing
        /// It runs; its start ticks and its owner's uid, when they can be read.
        case running(startTicks: UInt64?, owner: UInt32? = nil)
    }

    /// Creates an environment.
    public init(
        now: @escaping @Sendable () -> Date, hostName: String,
        processStartTicks: @escaping @Sendable (Int32) -> ProcessLookup, flowRunStates: (any FlowRunStates)? = nil,
        hostReports: (any HostReportStore)? = nil
    ) {
        self.now = now
        self.hostName = hostName
        self.processStartTicks = processStartTicks
        self.flowRunStates = flowRunStates
        self.hostReports = hostReports
    }

    /// What the evidence sources say of themselves, for a header or standard error: an API or a
    /// report store that cannot be read, agents gone silent.
    public var evidenceWarnings: [String] {
        [flowRunStates?.warning, hostReports?.warning, hostReports?.silenceNotice(now: now())].compactMap { $0 }
    }

    /// The real clock, host name and `/proc`.
    public static let live = MonitorEnvironment(
        now: { Date() },
        hostName: ProcessIdentity.current.hostName,
        processStartTicks: { pid in
            if let ticks = ProcessIdentity.startTicks(of: pid) {
                // `/proc/PID` belongs to the process's effective uid.
                let owner = ((try? FileSystem.status("/proc/\(pid)")) ?? nil)?.owner
                return .running(startTicks: ticks, owner: owner)
            }
            if ProcessIdentity.hasExited(pid) { return .missing }
            return kill(pid, 0) == 0 || errno == EPERM ? .running(startTicks: nil) : .missing
        })
}
