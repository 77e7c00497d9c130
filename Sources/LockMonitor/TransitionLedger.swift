import Foundation
import RecordStore

/// The monitor's memory of each lock, and the events its changes make: a pure value, fed what was
/// read and judged, returning ``MonitorEvent``s. It reads no file and asks no clock.
public struct TransitionLedger: Sendable {
    /// How a lock left when locktop took it aside, with the audit line of a break.
    public struct Removal: Equatable, Sendable {
        public var removal: LockFiles.Removal
        /// The process that took it aside, from the aside's name; nil where nothing names one (Redis).
        public var processID: Int32?
        public var audit: AuditLog.Entry?
        /// How it left, in words, when that is not the file's `expired; cleared by acquirer pid N`.
        public var why: String?

        public init(removal: LockFiles.Removal, processID: Int32?, audit: AuditLog.Entry? = nil, why: String? = nil) {
            self.removal = removal
            self.processID = processID
            self.audit = audit
            self.why = why
        }
    }

    /// What one judgement of a lock changed.
    public struct Judgement: Equatable, Sendable {
        /// The events to announce: stale, unreadable, expired, blocked.
        public var events: [MonitorEvent] = []
        /// Whether the state or the liveness moved, so the lock's row is to be drawn again.
        public var changed = false
    }

    /// Contention statistics by lock file name.
    public private(set) var statistics: [String: ContentionStatistics] = [:]
    private var lastReadable: [String: LockFileContent] = [:]
    private var heldSince: [String: Date] = [:]
    private var expiredAnnounced: Set<String> = []
    private var announced: [String: LockClassification] = [:]
    private var blockedAnnounced: Set<String> = []

    /// An empty ledger.
    public init() {}

    /// Takes in `lock`, found at start, as judged: no event, since nothing changed while watched.
    public mutating func seed(_ lock: LockEntry, judged: LockClassification, at now: Date) {
        announced[lock.name] = judged
        guard let content = lock.content else { return }
        lastReadable[lock.name] = content
        heldSince[lock.name] = lock.acquired
        if content.isExpired(at: now) { expiredAnnounced.insert(lock.name) }
    }

    /// The contention statistics of the lock file `name`.
    public func statistics(forLock name: String) -> ContentionStatistics {
        statistics[name] ?? ContentionStatistics()
    }

    /// Counts a read of the lock file `name` by another process: a waiter polling.
    public mutating func recordRead(of name: String, at now: Date) {
        statistics[name, default: ContentionStatistics()].recordOpen(at: now)
    }

    /// Records a wait on the lock file `name` that ran from `start` to `end`.
    public mutating func recordWait(of name: String, from start: Date, to end: Date) {
        statistics[name, default: ContentionStatistics()].recordWait(from: start, to: end)
    }

    /// Forgets how `name` was last judged: a changed file is judged afresh, whatever it was announced as.
    public mutating func forgetJudgement(of name: String) {
        announced[name] = nil
    }

    /// Forgets every holder, as when the directory went: what comes back is new.
    public mutating func forgetHolders() {
        lastReadable = [:]
        heldSince = [:]
    }

    /// The events of the lock file `name` going from `old` to `new` (nil when absent) at `now`.
    /// `removal` says how it left when locktop took it aside; `isSetAside` holds the events of a
    /// lock whose aside has not gone yet; `auditedBreak(name, holder)` finds an operator's break
    /// in the audit log; an unreadable file younger than `gracePeriod` is still being written.
    public mutating func transition(
        name: String, from old: LockEntry?, to new: LockEntry?, at now: Date,
        removal: Removal? = nil, isSetAside: Bool = false, gracePeriod: TimeInterval,
        auditedBreak: (_ lockName: String, _ holder: String?) -> AuditLog.Entry? = { _, _ in nil }
    ) -> [MonitorEvent] {
        let key = RecordKey.shownKey(ofLockName: name)
        let previous = lastReadable[name]
        let holderLeft: Bool
        if let content = new?.content {
            holderLeft = previous != nil && previous?.holder != content.holder
        } else {
            holderLeft = new == nil && (old != nil || previous != nil)
        }
        // A lock set aside by locktop is judged when its aside goes: a release, or a break with its audit line.
        if holderLeft && isSetAside { return [] }
        var events: [MonitorEvent] = []
        if let new {
            guard let content = new.content else {
                // Another file in its place, still empty (Prefect touches, then writes): the
                // previous hold ended when its file went, not when the new one is read.
                if let previous, let old, FileKey(old.status) != FileKey(new.status) {
                    if isSetAside { return [] }
                    events.append(
                        leaving(
                            name: name, key: key, holder: previous.holder, at: now, removal: removal,
                            auditedBreak: auditedBreak))
                    forgetHolder(of: name)
                    return events
                }
                if old?.content != nil, now.timeIntervalSince(new.acquired) >= gracePeriod {
                    events.append(
                        MonitorEvent(
                            time: now, kind: .changed, key: key, previousHolder: previous?.holder,
                            detail: "the lock file became unreadable"))
                }
                return events
            }
            if let previous, previous.holder == content.holder {
                // The same holder's renewal. What else it learns of its holder (a companion, a
                // heartbeat's name) shows in the row, and is no event.
                if previous.expiration != content.expiration {
                    var event = MonitorEvent(
                        time: now, kind: .changed, key: key, holder: content.holder,
                        detail: content.expiration.map { "expiration \(PrefectTimestamp.format($0))" }
                            ?? "no expiration")
                    event.expiresAt = content.expiration
                    events.append(event)
                    expiredAnnounced.remove(name)
                }
            } else {
                if let previous {
                    events.append(
                        leaving(
                            name: name, key: key, holder: previous.holder, at: now, removal: removal,
                            auditedBreak: auditedBreak))
                }
                let handOff = statistics[name, default: ContentionStatistics()].recordAcquisition(
                    holder: content.holder, at: now)
                heldSince[name] = new.acquired
                expiredAnnounced.remove(name)
                if content.isExpired(at: now) { expiredAnnounced.insert(name) }
                var event = MonitorEvent(
                    time: now, kind: .acquired, key: key, holder: content.holder,
                    detail: content.expiration.map { "expires \(PrefectTimestamp.format($0))" } ?? "no expiration")
                event.expiresAt = content.expiration
                // A hand-off names whom the lock passed from: the holder just replaced, or the one
                // that released it within the hand-off window.
                event.previousHolder = previous?.holder ?? (handOff.handOff ? handOff.from : nil)
                events.append(event)
            }
            lastReadable[name] = content
        } else if old != nil || previous != nil {
            events.append(
                leaving(
                    name: name, key: key, holder: previous?.holder, at: now, removal: removal,
                    auditedBreak: auditedBreak))
            forgetHolder(of: name)
        }
        return events
    }

    /// Forgets the holder of `name` that went, and what was announced of it.
    private mutating func forgetHolder(of name: String) {
        lastReadable[name] = nil
        announced[name] = nil
        blockedAnnounced.remove(name)
        expiredAnnounced.remove(name)
    }

    /// The event of `holder`'s lock going: `broken` only when this user's audit log has the break
    /// (an aside's name proves nothing: anyone who may write the directory can pick one), else
    /// `released`, saying so when an aside claimed a break. Either way its hold time is counted.
    private mutating func leaving(
        name: String, key: String, holder: String?, at now: Date, removal: Removal?,
        auditedBreak: (String, String?) -> AuditLog.Entry?
    ) -> MonitorEvent {
        var hold: TimeInterval?
        if let since = heldSince.removeValue(forKey: name) {
            statistics[name, default: ContentionStatistics()].recordRelease(holder: holder, acquired: since, at: now)
            hold = now.timeIntervalSince(since)
        }
        let held = hold.map { "held \(DurationText.format($0))" }
        var audit = removal?.audit
        if audit == nil, removal == nil || removal?.removal == .operatorBreak {
            audit = auditedBreak(name, holder)
        }
        var event: MonitorEvent
        if let audit {
            // The audit line names the holder broken: a hand-off this watch had not read yet may
            // have come between (found by the soak).
            event = .broken(by: audit, key: key, holder: holder, detail: held, at: now)
        } else {
            var detail = held
            let cleared = removal?.processID.map { "expired; cleared by acquirer pid \($0)" }
            let unaudited = removal?.processID.map {
                "set aside as a break by pid \($0), with no line in this user's audit log"
            }
            let claims: String? =
                switch removal?.removal {
                case .expired?: cleared
                case .operatorBreak?: unaudited
                case .release?, nil: nil
                }
            if let why = removal?.why ?? claims {
                detail = [held, why].compactMap { $0 }.joined(separator: ", ")
            }
            event = MonitorEvent(time: now, kind: .released, key: key, previousHolder: holder, detail: detail)
        }
        event.heldSeconds = hold
        return event
    }

    /// Takes in a judgement of `lock` at `now` and returns what is to be announced: a lock that
    /// became stale, suspect or unreadable, an expiration, and waiters blocked behind it.
    public mutating func judge(_ lock: LockEntry, as judged: LockClassification, at now: Date) -> Judgement {
        var judgement = Judgement()
        let previous = announced.updateValue(judged, forKey: lock.name)
        if judged.state != previous?.state || judged.liveness != previous?.liveness
            || judged.isBlocking != previous?.isBlocking || judged.judgedBy != previous?.judgedBy
        {
            judgement.changed = true
            if judged.state != previous?.state, let kind = MonitorEvent.Kind(announcing: judged.state) {
                judgement.events.append(
                    MonitorEvent(
                        time: now, kind: kind, key: lock.key, holder: lock.content?.holder,
                        detail: judged.reason, reason: judged.reason))
            }
        }
        if let content = lock.content, content.isExpired(at: now), expiredAnnounced.insert(lock.name).inserted {
            var event = MonitorEvent(
                time: now, kind: .expired, key: lock.key, holder: content.holder,
                detail: content.expiration.map { "expiration \(PrefectTimestamp.format($0))" })
            event.expiresAt = content.expiration
            judgement.events.append(event)
        }
        if judged.isBlocking {
            if blockedAnnounced.insert(lock.name).inserted {
                let holder = judged.liveness == .unknown ? "an unknown" : "a dead"
                let count = judged.blockedWaiters == 1 ? "1 waiter" : "\(judged.blockedWaiters) waiters"
                let waited = DurationText.format(judged.blockedFor ?? 0)
                judgement.events.append(
                    MonitorEvent(
                        time: now, kind: .blocked, key: lock.key, holder: lock.content?.holder,
                        detail: "\(count) blocked \(waited) behind \(holder) holder", reason: judged.reason))
            }
        } else {
            blockedAnnounced.remove(lock.name)
        }
        return judgement
    }
}
