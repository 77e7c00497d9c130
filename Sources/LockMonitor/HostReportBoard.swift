import Foundation
import RecordStore

/// The host reports in a shared locks directory's `.locktop/` folder, read as they change, and
/// those of a ``HostReportStore`` (Redis), and what they say of each lock. A report in the folder
/// speaks of a lock only when its owner could make the claim: root's report, in a folder only
/// root may change, or a report owned by the lock file's own owner; a store's speak of every lock.
/// Each is aged by its storage's clock; an agent silent for three intervals proves nothing, alive
/// or dead.
public final class HostReportBoard {
    /// One report as read, with what its storage says of it.
    public struct Published: Sendable {
        public var report: HostReport
        /// Seconds since it was written, by its storage's clock, at the last refresh.
        public var age: TimeInterval
        /// The file's owner; nil for a store's report, which speaks of every lock.
        public var owner: UInt32?
        /// Whether it expired from its store: its agent is silent, however young it looks.
        public var isExpired = false
        /// When the file was written, by the storage's clock (a store's report: unused).
        fileprivate var modified = Date.distantPast
        fileprivate var stamp: Int64 = 0
    }

    private let locks: DirectoryHandle
    private let store: (any HostReportStore)?
    /// The last report each store host published, kept after it expired, so that a watch still
    /// knows which locks a silent agent had spoken of.
    private var lastStored: [String: HostReport] = [:]
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

    /// A board over the `.locktop/` folder of the locks directory `locks`, and `store`'s reports.
    public init(locksDirectory locks: DirectoryHandle, store: (any HostReportStore)? = nil) {
        self.locks = locks
        self.store = store
    }

    /// Why the store's reports cannot be read now; nil while they can (or there is no store).
    public var warning: String? { store?.warning }

    /// Re-reads the reports whose files changed, forgets those gone, and ages every report at
    /// `storageNow` (the shared filesystem's clock). Cheap when nothing changed: one fresh
    /// `statx` per report, and the store's cached answer.
    public func refresh(storageNow: Date) {
        var changed = refreshFolder()
        if let store { changed = merge(store.currentReports()) || changed }
        for (name, entry) in published where entry.owner != nil {
            published[name]?.age = storageNow.timeIntervalSince(entry.modified)
        }
        if changed { reindex() }
    }

    /// Re-reads the folder's changed reports; whether any changed.
    private func refreshFolder() -> Bool {
        guard let folderStatus = (try? locks.status(of: LockFiles.sharedFolderName)) ?? nil, folderStatus.isDirectory,
            let folder = (try? locks.openSubdirectory(LockFiles.sharedFolderName)) ?? nil,
            let names = try? DirectoryListing.raw(folder, statting: false)
        else {
            let before = published.count
            published = published.filter { $0.value.owner == nil }
            return published.count != before
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
                report: report, age: 0, owner: status.owner, modified: status.modified,
                stamp: status.modifiedNanoseconds)
        }
        for (name, entry) in published where entry.owner != nil && !seen.contains(name) {
            published[name] = nil
            changed = true
        }
        return changed
    }

    /// Takes in the store's entries, under `store:HOST` (a name no report file has); whether the
    /// set of reports changed. An expired entry keeps the host's last report, marked expired.
    private func merge(_ stored: [StoredHostReport]) -> Bool {
        var changed = false
        var seen: Set<String> = []
        for entry in stored.prefix(Self.maximumReports) {
            let name = "store:\(entry.hostName)"
            // A report filed under another host's name says nothing.
            let fresh = entry.report.flatMap { $0.hostName == entry.hostName ? $0 : nil }
            if let fresh { lastStored[entry.hostName] = fresh }
            guard let report = fresh ?? lastStored[entry.hostName] else { continue }
            seen.insert(name)
            let expired = fresh == nil
            if published[name]?.report != report || published[name]?.isExpired != expired { changed = true }
            published[name] = Published(report: report, age: max(0, entry.age), owner: nil, isExpired: expired)
        }
        for (name, entry) in published where entry.owner == nil && !seen.contains(name) {
            published[name] = nil
            changed = true
        }
        if lastStored.count > Self.maximumReports { lastStored = [:] }
        return changed
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

    /// Whether `entry`'s claims count for a lock file owned by `owner`: a store's always.
    private func believes(_ entry: Published, aboutLockOwnedBy owner: UInt32) -> Bool {
        guard let reportOwner = entry.owner else { return true }
        return (reportOwner == 0 && folderIsRoots) || reportOwner == owner
    }

    /// Whether `entry`'s agent has gone silent: more than three intervals since it wrote, or expired.
    private func isSilent(_ entry: Published) -> Bool {
        entry.isExpired || entry.age > HostReport.silenceIntervals * entry.report.interval
    }

    /// What the reports say of `lock` as of the last refresh (`localNow` is this host's clock):
    /// the testimony of the agent whose host created it, and that process; nil when no report
    /// speaks of it.
    public func testimony(of lock: LockEntry, localNow: Date) -> (
        testimony: LivenessTestimony, holder: ProcessDetails?
    )? {
        let fingerprint = HostReport.fingerprint(of: lock.bytes)
        for (file, holder) in holders[lock.name] ?? [] where holder.fingerprint == fingerprint {
            guard let entry = published[file], believes(entry, aboutLockOwnedBy: lock.status.owner) else { continue }
            return (judge(holder, in: entry, localNow: localNow), holder.process)
        }
        // A lock naming a host whose agent went silent: that agent cannot vouch for it either way.
        guard let host = lock.content?.namedProcess.hostName else { return nil }
        for entry in published.values
        where entry.report.hostName == host && believes(entry, aboutLockOwnedBy: lock.status.owner)
            && isSilent(entry)
        {
            return (silence(of: entry, localNow: localNow), nil)
        }
        return nil
    }

    /// The testimony of one holder in one report.
    private func judge(_ holder: HostReport.Holder, in entry: Published, localNow: Date) -> LivenessTestimony {
        let report = entry.report
        let age = max(0, entry.age)
        if isSilent(entry) { return silence(of: entry, localNow: localNow) }
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

    private func silence(of entry: Published, localNow: Date) -> LivenessTestimony {
        let last = localNow.addingTimeInterval(-max(0, entry.age))
        return LivenessTestimony(
            source: .agent, verdict: .unknown, observedAt: last,
            reason: "agent on \(entry.report.hostName) silent since \(DurationText.timeOfDay(last))")
    }

    /// The waiters the reports name on the lock file `name`, by host.
    public func waiters(ofLock name: String) -> [HostReport.Waiter] {
        published.values.flatMap { $0.report.waiters.filter { $0.lockName == name } }
    }
}
