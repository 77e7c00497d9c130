import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// What `locktop agent` does each interval: the ``HostReport`` of what its monitor saw on this
/// host, written into the shared locks directory's `.locktop/` folder, atomically (or to Redis,
/// see `RedisMonitor`'s `RedisReportPublisher`). It remembers
/// each holder it reported, so a holder whose creation it saw stays known while the lock file is
/// unchanged: across intervals, and across a restart of the agent on the same boot.
public struct HostReportPublisher {
    /// The holders of the last report, by lock name.
    private var reported: [String: HostReport.Holder] = [:]

    /// A publisher that starts from `previous`, this agent's last report, when it is this host's
    /// on this boot.
    public init(resuming previous: HostReport?, hostName: String, bootID: String) {
        guard !bootID.isEmpty, let previous, previous.hostName == hostName, previous.bootID == bootID else { return }
        for holder in previous.holders { reported[holder.lockName] = holder }
    }

    /// This host's last report in `locks`, when it is this agent's own: written by this user into
    /// a folder only this user may change.
    public static func lastReport(in locks: DirectoryHandle?, hostName: String) -> HostReport? {
        guard let locks, let folder = ownFolder(in: locks),
            let status = (try? folder.status(of: HostReport.fileName(forHost: hostName))) ?? nil,
            status.isRegularFile, status.owner == geteuid(),
            let bytes = (try? folder.readFile(HostReport.fileName(forHost: hostName), limit: HostReport.maximumSize))
                ?? nil
        else { return nil }
        return HostReport(parsing: bytes)
    }

    /// This host's report from `monitor`: each lock file a local process created (fanotify saw
    /// it, the lock names a process here, or an earlier report had it and the file is unchanged),
    /// judged by this host's `/proc` alone, and the waiters.
    public mutating func report(of monitor: LockMonitor, interval: TimeInterval, bootID: String) -> HostReport {
        let host = monitor.environment.hostName
        var holders: [HostReport.Holder] = []
        var waiters: [HostReport.Waiter] = []
        for lock in monitor.snapshot.locks.values.sorted(by: { $0.name < $1.name }) {
            let verdict = monitor.classification(of: lock)
            let identity = monitor.identity(of: lock)
            for waiter in identity.waiters where waiter.process.hostName == host {
                waiters.append(HostReport.Waiter(lockName: lock.name, process: waiter.process, since: waiter.since))
            }
            // Only what this host judged itself: another agent's word is that agent's to publish.
            if [.fanotify, .lockFile, .holderString].contains(verdict.judgedBy),
                var process = Self.localHolder(of: lock, identity: identity, host: host)
            {
                if process.uid == nil { process.uid = lock.status.owner }
                holders.append(
                    HostReport.Holder(
                        lockName: lock.name, fingerprint: HostReport.fingerprint(of: lock.bytes), process: process,
                        isAlive: verdict.liveness == .alive))
            } else if let earlier = reported[lock.name], earlier.fingerprint == HostReport.fingerprint(of: lock.bytes) {
                holders.append(Self.checkedAgain(earlier, in: monitor.environment))
            }
        }
        reported = Dictionary(holders.map { ($0.lockName, $0) }) { first, _ in first }
        return HostReport(
            hostName: host, bootID: bootID, writtenAt: monitor.environment.now(), interval: interval,
            holders: holders, waiters: waiters)
    }

    /// The local process the monitor found for `lock`, or the one its content names on this host.
    private static func localHolder(of lock: LockEntry, identity: LockIdentity, host: String) -> ProcessDetails? {
        if let process = identity.holderProcess { return process.hostName == host ? process : nil }
        guard let content = lock.content, content.namedProcess.hostName == host,
            let pid = content.namedProcess.processID
        else { return nil }
        return ProcessDetails(processID: pid, hostName: host, startTicks: content.processStartTicks, command: "?")
    }

    /// `holder`, remembered from an earlier report, judged again by `/proc`: alive only while the
    /// same process (same start ticks) runs.
    private static func checkedAgain(_ holder: HostReport.Holder, in environment: MonitorEnvironment)
        -> HostReport.Holder
    {
        var holder = holder
        guard holder.isAlive else { return holder }
        if case .running(let ticks, _) = environment.processStartTicks(holder.process.processID),
            ticks == holder.process.startTicks
        {
            holder.process.lastSeenAlive = environment.now()
        } else {
            holder.isAlive = false
        }
        return holder
    }

    /// The `.locktop/` folder of `locks`, when this user owns it and no one else may change it.
    private static func ownFolder(in locks: DirectoryHandle) -> DirectoryHandle? {
        guard let status = (try? locks.status(of: LockFiles.sharedFolderName)) ?? nil, status.isDirectory,
            status.owner == geteuid(), status.mode & 0o022 == 0
        else { return nil }
        return (try? locks.openSubdirectory(LockFiles.sharedFolderName)) ?? nil
    }

    /// Writes `report` as `.locktop/host-NAME.json` in `locks`, creating the folder (mode 0755)
    /// when it is missing. Refuses a folder this user does not own, or that others may write:
    /// readers believe root's reports only from a folder only root may change.
    public static func publish(_ report: HostReport, in locks: DirectoryHandle) throws(RecordStoreError) {
        try locks.makeSubdirectory(LockFiles.sharedFolderName, mode: 0o755)
        guard let status = try locks.status(of: LockFiles.sharedFolderName), status.isDirectory else {
            throw .notADirectory(path: locks.path(of: LockFiles.sharedFolderName))
        }
        if status.owner != geteuid() || status.mode & 0o022 != 0 {
            throw .system(operation: "publish into", path: locks.path(of: LockFiles.sharedFolderName), errno: EPERM)
        }
        guard let folder = try locks.openSubdirectory(LockFiles.sharedFolderName) else {
            throw .directoryMissing(path: locks.path(of: LockFiles.sharedFolderName))
        }
        let temporary = LockFiles.temporaryName(kind: "tmp")
        guard try folder.createExclusive(temporary, bytes: report.encoded()) != nil else {
            throw .system(operation: "create", path: folder.path(of: temporary), errno: EEXIST)
        }
        do {
            _ = try folder.rename(temporary, to: HostReport.fileName(forHost: report.hostName))
        } catch {
            _ = try? folder.removeName(temporary)
            throw error
        }
    }
}
