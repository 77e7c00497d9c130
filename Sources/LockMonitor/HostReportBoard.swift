import Foundation
import RecordStore

/// The host reports in a shared locks directory's `.locktop/` folder, read as they change, and
/// what they say of each lock. A report speaks of a lock only when its owner could make the claim:
/// root's report, in a folder only root may change, or a report owned by the lock file's own
/// owner. Its age is judged by the storage's clock; an agent silent for three intervals proves
/// nothing, alive or dead.
public final class HostReportBoard {
    /// One report as read, with what the storage says of its file.
    public struct Published: Sendable {
        public var report: HostReport
        /// When the file was written, by the storage's clock.
        public var modified: Date
        /// The file's owner.
        public var owner: UInt32
        fileprivate var stamp: Int64
    }

    private let locks: DirectoryHandle
    /// Every report read, by file name.
    public private(set) var published: [String: Published] = [:]
    /// Whether the folder is root's and only root may change it, so root's reports count for every lock.
    private var folderIsRoots = false
    /// Each lock name's holders across the reports, with the report's file name.
    private var holders: [String: [(file: String, holder: HostReport.Holder)]] = [:]
    /// The hosts whose reports are there.
    private var reportingHosts: Set<String> = []
    /// The most reports read: one per host.
    public static let maximumReports = 4096

    /// A board over the `.locktop/` folder of the locks directory `locks`.
    public init(locksDirectory locks: DirectoryHandle) {
        self.locks = locks
    }

    /// Re-reads the reports whose files changed, and forgets those gone. Cheap when nothing
    /// changed: one fresh `statx` per report.
    public func refresh() {
        guard let folderStatus = (try? locks.status(of: LockFiles.sharedFolderName)) ?? nil, folderStatus.isDirectory,
            let folder = (try? locks.openSubdirectory(LockFiles.sharedFolderName)) ?? nil,
            let names = try? DirectoryListing.raw(folder, statting: false)
        else {
            if !published.isEmpty { (published, holders, reportingHosts) = ([:], [:], []) }
            return
        }
        folderIsRoots = folderStatus.owner == 0 && folderStatus.mode & 0o022 == 0
        var seen: Set<String> = []
        var changed = false
        for index in 0..<min(names.count, Self.maximumReports * 2) {
            let name = names.withName(index) { String(decoding: $0, as: UTF8.self) }
            guard HostReport.isReportName(name), seen.count < Self.maximumReports,
                let status = (try? folder.freshStatus(of: name)) ?? nil, status.isRegularFile
            else { continue }
            seen.insert(name)
            if published[name]?.stamp == status.modifiedNanoseconds { continue }
            changed = true
            guard let bytes = (try? folder.readFile(name, limit: HostReport.maximumSize)) ?? nil,
                let report = HostReport(parsing: bytes)
            else {
                published[name] = nil
                continue
            }
            published[name] = Published(
                report: report, modified: status.modified, owner: status.owner, stamp: status.modifiedNanoseconds)
        }
        for name in published.keys where !seen.contains(name) {
            published[name] = nil
            changed = true
        }
        if changed { reindex() }
    }

    private func reindex() {
        holders = [:]
        reportingHosts = Set(published.values.map(\.report.hostName))
        for (file, entry) in published {
            for holder in entry.report.holders { holders[holder.lockName, default: []].append((file, holder)) }
        }
    }

    /// Whether any report is there.
    public var isEmpty: Bool { published.isEmpty }

    /// Whether a report may speak of `lock`: one names its file, or comes from the host its content
    /// names. A dictionary lookup, so that a tick can ask it of every lock.
    public func mayMention(_ lock: LockEntry) -> Bool {
        if holders[lock.name] != nil { return true }
        guard let host = lock.content?.namedProcess.hostName else { return false }
        return reportingHosts.contains(host)
    }

    /// Whether `entry`'s claims count for a lock file owned by `owner`.
    private func believes(_ entry: Published, aboutLockOwnedBy owner: UInt32) -> Bool {
        (entry.owner == 0 && folderIsRoots) || entry.owner == owner
    }

    /// What the reports say of `lock` at `storageNow` (the storage's clock; `localNow` is this
    /// host's): the testimony of the agent whose host created it, and that process; nil when no
    /// report speaks of it.
    public func testimony(of lock: LockEntry, storageNow: Date, localNow: Date) -> (
        testimony: LivenessTestimony, holder: ProcessDetails?
    )? {
        let fingerprint = HostReport.fingerprint(of: lock.bytes)
        for (file, holder) in holders[lock.name] ?? [] where holder.fingerprint == fingerprint {
            guard let entry = published[file], believes(entry, aboutLockOwnedBy: lock.status.owner) else { continue }
            return (judge(holder, in: entry, storageNow: storageNow, localNow: localNow), holder.process)
        }
        // A lock naming a host whose agent went silent: that agent cannot vouch for it either way.
        guard let host = lock.content?.namedProcess.hostName else { return nil }
        for entry in published.values
        where entry.report.hostName == host && believes(entry, aboutLockOwnedBy: lock.status.owner) {
            let age = storageNow.timeIntervalSince(entry.modified)
            if age > HostReport.silenceIntervals * entry.report.interval {
                return (silence(of: entry, age: age, localNow: localNow), nil)
            }
        }
        return nil
    }

    /// The testimony of one holder in one report.
    private func judge(_ holder: HostReport.Holder, in entry: Published, storageNow: Date, localNow: Date)
        -> LivenessTestimony
    {
        let report = entry.report
        let age = max(0, storageNow.timeIntervalSince(entry.modified))
        if age > HostReport.silenceIntervals * report.interval {
            return silence(of: entry, age: age, localNow: localNow)
        }
        let who = "holder pid \(holder.process.processID) (\(holder.process.shortCommand)) on \(report.hostName)"
        let observed = localNow.addingTimeInterval(-age)
        if holder.isAlive {
            return LivenessTestimony(
                source: .agent, verdict: .alive, observedAt: observed,
                reason: "\(who) is alive (reported by \(report.hostName)'s agent \(DurationText.format(age)) ago)")
        }
        // The death is dated by the agent's own clock against its report's, then aged by the storage's.
        let died = holder.process.lastSeenAlive.map { max(0, report.writtenAt.timeIntervalSince($0)) + age }
        return LivenessTestimony(
            source: .agent, verdict: .dead, observedAt: observed,
            reason:
                "\(who) died\(died.map { " \(DurationText.format($0)) ago" } ?? "") (reported by \(report.hostName)'s agent)"
        )
    }

    private func silence(of entry: Published, age: TimeInterval, localNow: Date) -> LivenessTestimony {
        let last = localNow.addingTimeInterval(-age)
        return LivenessTestimony(
            source: .agent, verdict: .unknown, observedAt: last,
            reason: "agent on \(entry.report.hostName) silent since \(DurationText.timeOfDay(last))")
    }

    /// The waiters the reports name on the lock file `name`, by host.
    public func waiters(ofLock name: String) -> [HostReport.Waiter] {
        published.values.flatMap { $0.report.waiters.filter { $0.lockName == name } }
    }
}
