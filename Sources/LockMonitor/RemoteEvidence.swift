import Foundation
import RecordStore

/// What this host can learn of holders it cannot see in its own `/proc`: the host reports of other
/// hosts' agents (``HostReportBoard``: in the locks directory, and in the environment's
/// ``HostReportStore``) and the Prefect helper's heartbeat files, each aged by its storage's clock
/// (``StorageClock`` for the directory), and Prefect's word on the lock's flow run. The monitor
/// refreshes it every tick; the CLI once.
public final class RemoteEvidence {
    private let locks: DirectoryHandle
    private let board: HostReportBoard
    private let clock: StorageClock
    private let environment: MonitorEnvironment
    /// The storage's time at the last refresh, and this host's.
    private var storageNow: Date
    private var localNow: Date
    /// Each heartbeat file's testimony at this refresh, by name: many locks share one.
    private var heartbeats: [String: LivenessTestimony?] = [:]

    /// Evidence from the locks directory `locks`.
    public init(locksDirectory locks: DirectoryHandle, environment: MonitorEnvironment) {
        self.locks = locks
        self.environment = environment
        board = HostReportBoard(locksDirectory: locks, store: environment.hostReports)
        var probed = [locks]
        if let folder = (try? locks.openSubdirectory(LockFiles.sharedFolderName)) ?? nil {
            probed.insert(folder, at: 0)
        }
        clock = StorageClock(probingIn: probed)
        localNow = environment.now()
        storageNow = localNow
        refresh()
    }

    /// Reads what changed: the reports, and (lazily) the heartbeats.
    public func refresh() {
        localNow = environment.now()
        storageNow = clock.now(fallback: localNow)
        board.refresh(storageNow: storageNow)
        heartbeats = [:]
    }

    /// Whether the storage's clock could be read; otherwise this host's clock ages reports and heartbeats.
    public var usesStorageClock: Bool { clock.isShared }

    /// What other hosts and heartbeats say of `lock`.
    public func evidence(of lock: LockEntry) -> (testimonies: [LivenessTestimony], reportedHolder: ProcessDetails?) {
        var testimonies: [LivenessTestimony] = []
        var holder: ProcessDetails?
        if board.mayMention(lock),
            let (testimony, process) = board.testimony(of: lock, localNow: localNow)
        {
            testimonies.append(testimony)
            holder = process
        }
        if let content = lock.content, let heartbeat = heartbeatTestimony(of: content, ownedBy: lock.status.owner) {
            testimonies.append(heartbeat)
        }
        if let run = lock.content?.flowRunID ?? holder?.flowRunID,
            let testimony = environment.flowRunStates?.testimony(ofFlowRun: run, now: localNow)
        {
            testimonies.append(testimony)
        }
        return (testimonies, holder)
    }

    /// The process another host's agent reports creating `lock`, if any.
    public func reportedHolder(of lock: LockEntry) -> ProcessDetails? {
        guard board.mayMention(lock) else { return nil }
        return board.testimony(of: lock, localNow: localNow)?.holder
    }

    /// Whether `lock` has anything remote to judge it by, so that it is judged again every tick.
    public func speaksOf(_ lock: LockEntry) -> Bool {
        lock.content?.heartbeat != nil || (environment.flowRunStates != nil && lock.content?.flowRunID != nil)
            || (board.mayMention(lock) && !evidence(of: lock).testimonies.isEmpty)
    }

    /// The heartbeat's testimony: alive while its file was touched within three intervals by the
    /// storage's clock, dead once it was not, or once it is gone. Only a heartbeat file the lock
    /// file's owner could have made counts (same owner, or root's).
    private func heartbeatTestimony(of content: LockFileContent, ownedBy owner: UInt32) -> LivenessTestimony? {
        guard let name = content.heartbeat, let interval = content.heartbeatInterval else { return nil }
        let key = "\(name)\u{0}\(interval)\u{0}\(owner)"
        if let known = heartbeats[key] { return known }
        let who = "pid \(content.processID.map(String.init) ?? "?") on \(content.hostName ?? "an unnamed host")"
        let limit = HostReport.silenceIntervals * interval
        let testimony: LivenessTestimony?
        switch (try? locks.freshStatus(of: name)) ?? nil {
        case nil:
            testimony = LivenessTestimony(
                source: .heartbeat, verdict: .dead, observedAt: localNow,
                reason: "heartbeat of \(who) is gone: its process ended without releasing the lock")
        case let status? where !status.isRegularFile || (status.owner != owner && status.owner != 0 && owner != 0):
            testimony = nil
        case let status?:
            let age = storageNow.timeIntervalSince(status.modified)
            let observed = localNow.addingTimeInterval(-max(0, age))
            testimony =
                age > limit
                ? LivenessTestimony(
                    source: .heartbeat, verdict: .dead, observedAt: observed,
                    reason: "heartbeat of \(who) expired \(DurationText.format(age - limit)) ago")
                : LivenessTestimony(
                    source: .heartbeat, verdict: .alive, observedAt: observed,
                    reason: "heartbeat of \(who) is \(DurationText.format(max(0, age))) old")
        }
        heartbeats[key] = .some(testimony)
        return testimony
    }
}
