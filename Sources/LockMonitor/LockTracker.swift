import Foundation
import RecordStore

/// The one owner of each lock's verdict, whatever its source: a directory's lock files or a Redis
/// database's keys. Its source says "lock X is now this" (``update(_:from:to:evidence:at:removal:isSetAside:auditedBreak:)``)
/// and supplies who was seen holding and waiting; the tracker judges the lock once for that change,
/// keeps the verdict every surface reads (``verdict(of:)``), schedules the lock's next time-driven
/// change, turns what happened into events and statistics (its ``TransitionLedger``), and collects
/// the names changed since a view last looked.
public struct LockTracker {
    /// The rules.
    public let judge: any LockJudge
    /// Clock, host and process table, looked up afresh.
    public let environment: MonitorEnvironment
    /// The same, with process lookups cached for two seconds: for the many locks no process was seen holding.
    private let cachingEnvironment: MonitorEnvironment
    /// Each lock's announcements, hold times and contention statistics.
    public private(set) var transitions = TransitionLedger()
    private var verdicts: [String: LockClassification] = [:]
    private var schedule = StateChangeSchedule()
    /// Locks naming a process on this host, whose death no clock foretells: judged every ``sweepInterval``.
    private var processNamed: Set<String> = []
    private var lastSweep: Date
    private var changes = MonitorChanges()

    /// How often locks naming a local process are judged again.
    public static let sweepInterval: TimeInterval = 5

    /// A tracker judging by `judge`, on `environment`.
    public init(judge: any LockJudge, environment: MonitorEnvironment) {
        self.judge = judge
        self.environment = environment
        let cache = ProcessLookupCache(environment: environment, lifetime: 2)
        cachingEnvironment = MonitorEnvironment(now: environment.now, hostName: environment.hostName) {
            cache.lookup($0)
        }
        lastSweep = environment.now()
    }

    /// The verdict of the lock `name`, as last judged; nil when there is no such lock.
    public func verdict(of name: String) -> LockClassification? {
        verdicts[name]
    }

    /// `evidence` completed with what the tracker itself knows of the lock: its usual hold and
    /// whether it is polled, from the transitions and reads it saw.
    public func evidence(of lock: LockEntry, _ evidence: LockEvidence, at now: Date) -> LockEvidence {
        let statistics = transitions.statistics(forLock: lock.name)
        var complete = evidence
        complete.typicalHold = statistics.typicalHold
        complete.isPolled = evidence.isPolled || statistics.pollRate(now: now) > 0
        return complete
    }

    /// The verdict of `lock` at `now`, with `evidence`, without taking it in: what a break checks
    /// against the verdict the operator was shown.
    public func classify(_ lock: LockEntry, evidence: LockEvidence, at now: Date) -> LockClassification {
        verdict(of: lock, complete: self.evidence(of: lock, evidence, at: now), at: now)
    }

    /// The verdict of `lock` with evidence already completed by ``evidence(of:_:at:)``.
    private func verdict(of lock: LockEntry, complete: LockEvidence, at now: Date) -> LockClassification {
        // A holder seen by fanotify is looked up afresh, so that its death shows at once (they are few).
        judge.classify(
            lock, now: now, environment: complete.creator == nil ? cachingEnvironment : environment, evidence: complete)
    }

    /// Takes in `lock`, found at start, as judged now: no event, since nothing changed while watched.
    /// `evidence` is what the source knows of it beyond its file (its creator and waiters); the
    /// tracker adds its own history once.
    public mutating func seed(_ lock: LockEntry, evidence: LockEvidence, at now: Date) {
        let complete = self.evidence(of: lock, evidence, at: now)
        let judged = verdict(of: lock, complete: complete, at: now)
        verdicts[lock.name] = judged
        transitions.seed(lock, judged: judged, at: now)
        schedule.schedule(lock.name, at: judge.nextStateChange(of: lock, judged: judged, evidence: complete))
        noteProcess(of: lock)
    }

    /// Takes in the lock `name` going from `old` to `new` (nil: absent) at `now`, judges `new`
    /// once, and returns the events: the transition's (acquired, released, broken, changed) and
    /// the judgement's (stale, suspect, unreadable, expired, blocked). `removal`, `isSetAside` and
    /// `auditedBreak` tell how a lock that left went (see ``TransitionLedger``).
    public mutating func update(
        _ name: String, from old: LockEntry?, to new: LockEntry?, evidence: LockEvidence, at now: Date,
        removal: TransitionLedger.Removal? = nil, isSetAside: Bool = false,
        auditedBreak: (_ lockName: String, _ holder: String?) -> AuditLog.Entry? = { _, _ in nil }
    ) -> [MonitorEvent] {
        changes.locks.insert(name)
        // A changed lock is judged afresh, whatever state it was announced in.
        transitions.forgetJudgement(of: name)
        let events = transitions.transition(
            name: name, from: old, to: new, at: now, removal: removal, isSetAside: isSetAside,
            gracePeriod: judge.classifier.gracePeriod, auditedBreak: auditedBreak)
        guard let new else {
            forget(name)
            return events
        }
        noteProcess(of: new)
        return events + self.judge(new, evidence: evidence, at: now)
    }

    /// Settles a removal of `name` that waited (for its audit line, say) with no lock to go from.
    public mutating func settleRemoval(of name: String, at now: Date, removal: TransitionLedger.Removal?)
        -> [MonitorEvent]
    {
        transitions.transition(
            name: name, from: nil, to: nil, at: now, removal: removal, gracePeriod: judge.classifier.gracePeriod)
    }

    /// Judges `lock` at `now`, keeps the verdict, schedules its next time-driven change, and returns
    /// what is to be announced.
    public mutating func judge(_ lock: LockEntry, evidence: LockEvidence, at now: Date) -> [MonitorEvent] {
        let complete = self.evidence(of: lock, evidence, at: now)
        let judged = verdict(of: lock, complete: complete, at: now)
        verdicts[lock.name] = judged
        schedule.schedule(lock.name, at: judge.nextStateChange(of: lock, judged: judged, evidence: complete))
        let judgement = transitions.judge(lock, as: judged, at: now)
        if judgement.changed { changes.locks.insert(lock.name) }
        return judgement.events
    }

    /// The names whose verdict time may have changed by `now`: those due on the schedule, and
    /// every ``sweepInterval`` those naming a local process; `swept` says whether that sweep ran,
    /// for the source's own jobs that ride on it.
    public mutating func dueNames(at now: Date) -> (names: Set<String>, swept: Bool) {
        var names = Set(schedule.takeDue(at: now))
        guard now.timeIntervalSince(lastSweep) >= Self.sweepInterval else { return (names, false) }
        lastSweep = now
        names.formUnion(processNamed)
        return (names, true)
    }

    /// Forgets the lock `name`: it is gone.
    public mutating func forget(_ name: String) {
        verdicts[name] = nil
        schedule.schedule(name, at: nil)
        processNamed.remove(name)
    }

    /// Forgets every holder, as when the directory went: what comes back is new.
    public mutating func forgetHolders() {
        transitions.forgetHolders()
    }

    /// Counts a read of the lock `name` by another process: a waiter polling.
    public mutating func recordRead(of name: String, at now: Date) {
        transitions.recordRead(of: name, at: now)
    }

    /// Counts a wait on the lock `name` that ran from `start` to `end`.
    public mutating func recordWait(of name: String, from start: Date, to end: Date) {
        transitions.recordWait(of: name, from: start, to: end)
    }

    /// The contention statistics of the lock `name`.
    public func statistics(forLock name: String) -> ContentionStatistics {
        transitions.statistics(forLock: name)
    }

    /// Notes a change a view must draw that no update brought: a waiter came, a poll rate moved.
    public mutating func noteChanged(lock name: String) {
        changes.locks.insert(name)
    }

    /// Notes changed records.
    public mutating func noteChanged<Names: Sequence<String>>(records names: Names) {
        changes.records.formUnion(names)
    }

    /// Notes that the whole model was replaced: a rescan, a reconnection, a lost directory.
    public mutating func noteEverythingChanged() {
        changes.everything = true
    }

    /// The names changed since the last call.
    public mutating func takeChanges() -> MonitorChanges {
        defer { changes = MonitorChanges() }
        return changes
    }

    /// Keeps `lock` among the locks swept while it names a process on this host.
    private mutating func noteProcess(of lock: LockEntry) {
        let named = lock.content?.namedProcess
        if named?.hostName == environment.hostName, named?.processID != nil {
            processNamed.insert(lock.name)
        } else {
            processNamed.remove(lock.name)
        }
    }
}
