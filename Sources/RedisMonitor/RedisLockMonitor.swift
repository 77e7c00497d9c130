import Foundation
import LockMonitor
import RecordStore
import RedisStore

/// Watches a Redis database's prefect-redis locks and keeps them judged, as ``LockMonitor`` does
/// a directory: one connection reads (SCAN at start, on reconnect and every ``Configuration/resyncInterval``;
/// one key at a time on a change), a second subscribes to the keyspace notifications of the
/// prefix. Without notifications it polls with SCAN. A server that goes away is retried with
/// back-off, and said so; nothing blocks longer than the connection timeout.
public final class RedisLockMonitor: LockSource {
    /// What to watch and how to judge it.
    public struct Configuration: Sendable {
        public var url: RedisURL
        public var prefix: String
        /// How each lock is judged: the file classifier's rules.
        public var classifier: LockClassifier
        /// The audit log whose lines tell a break from a release; nil reads none.
        public var auditLog: AuditLog?
        /// Whether to turn the server's keyspace notifications on (`CONFIG SET`, merged with its flags).
        public var enablesNotifications: Bool
        /// How often everything is read again while notifications are on (they may be lost).
        public var resyncInterval: TimeInterval
        /// How often everything is read while notifications are off.
        public var pollInterval: TimeInterval
        /// How long one call may wait for the server.
        public var timeout: TimeInterval
        /// The CA certificates (PEM) a `rediss://` server's certificate must chain to; nil trusts the system's.
        public var certificateAuthorities: String?

        public init(
            url: RedisURL, prefix: String = "lock:", classifier: LockClassifier = LockClassifier(),
            auditLog: AuditLog? = nil, enablesNotifications: Bool = false, resyncInterval: TimeInterval = 30,
            pollInterval: TimeInterval = 2, timeout: TimeInterval = 5, certificateAuthorities: String? = nil
        ) {
            self.url = url
            self.prefix = prefix
            self.classifier = classifier
            self.auditLog = auditLog
            self.enablesNotifications = enablesNotifications
            self.resyncInterval = resyncInterval
            self.pollInterval = pollInterval
            self.timeout = timeout
            self.certificateAuthorities = certificateAuthorities
        }
    }

    /// How the monitor learns of changes.
    public enum Mode: Equatable, Sendable {
        /// Keyspace notifications, with a full read every resync interval.
        case notifications
        /// A full read every interval: notifications are off or not allowed.
        case polling(interval: TimeInterval)
        /// The server went away; the next attempt is at this time.
        case reconnecting(at: Date)
    }

    public let configuration: Configuration
    public let environment: MonitorEnvironment
    public let judge: RedisLockJudge
    /// The locks as last read, by entry name (`<key>.lock`).
    public private(set) var locks: [String: RedisLockEntry] = [:]
    public private(set) var mode: Mode
    /// Why notifications are not used, said once at start.
    public private(set) var notice: String?
    private var reader: RedisLockReader?
    private var subscription: RedisConnection?
    private var firstSeen: FirstSeenLedger
    /// Each lock's one verdict, schedule, transitions and statistics, and the names changed since a view looked.
    public private(set) var tracker: LockTracker
    private var auditTail: AuditTail?
    /// Locks gone without an audit line yet: a break's line follows its delete, so the removal waits for it a moment.
    private var pendingRemovals: [String: (holder: String?, since: Date)] = [:]
    /// Holders announced `released` because a new holder took the key before a line came, each
    /// lock's in order: a break's line that comes within ``auditWait`` still makes its `broken`
    /// event, late. Every hand-off is its own: a quick next one must not hide an earlier break.
    private var releasedUnexplained: [String: [(holder: String?, since: Date)]] = [:]
    private var lastRead: Date
    /// The locks someone is looking at: judged every tick.
    public var closelyWatched: Set<String> = []
    private var retryDelay: TimeInterval = 1
    private var usesNotifications = false
    /// Since when a PING on the notification connection waits for its answer: one per tick, so
    /// that a server that stops answering (SIGSTOP, a stuck network) shows within a tick or two,
    /// long before a call times out.
    private var pingSent: Date?
    /// The last reading of each heartbeat key the locks' companions name, and when they were read.
    private var heartbeats: [[UInt8]: RedisHeartbeat] = [:]
    private var heartbeatsRead: Date
    /// Whether a heartbeat key's notification asks for them to be read at the next tick.
    private var heartbeatsChanged = false

    /// How long a removal waits for its audit line before it is called a release.
    static let auditWait: TimeInterval = 1
    /// The most hand-offs of one lock kept waiting for a late break's line.
    static let keptUnexplainedReleases = 64
    /// How often the heartbeat keys are read: their expiry shows within this, notifications or not.
    static let heartbeatReadInterval: TimeInterval = 1

    /// Connects and reads every lock; throws when the server cannot be reached at start.
    public init(
        configuration: Configuration, environment: MonitorEnvironment = .live,
        firstSeen: FirstSeenLedger
    ) throws(RedisError) {
        self.configuration = configuration
        self.environment = environment
        self.firstSeen = firstSeen
        judge = RedisLockJudge(classifier: configuration.classifier)
        tracker = LockTracker(judge: judge, environment: environment)
        auditTail = configuration.auditLog.map(AuditTail.init)
        let now = environment.now()
        lastRead = now
        heartbeatsRead = now
        mode = .polling(interval: configuration.pollInterval)
        try connect()
        for lock in locks.values { tracker.seed(lock.entry, evidence: evidence(of: lock, at: now), at: now) }
    }

    public var location: String { configuration.url.description }

    public var descriptors: [Int32] { subscription.map { [$0.fileDescriptor] } ?? [] }

    /// How the monitor watches, for the dashboard's header.
    /// None is ever known: nothing shows who waits for a Redis lock.
    public var deadlocks: [WaitForGraph.Deadlock] { [] }

    public var watchText: String {
        switch mode {
        case .notifications: return "redis, keyspace notifications"
        case .polling(let interval): return "redis, polling every \(DurationText.format(interval))"
        case .reconnecting: return "redis, reconnecting"
        }
    }

    /// The verdict of `lock`, as the tracker last judged it; a lock it does not hold is judged now.
    public func classification(of lock: RedisLockEntry) -> LockClassification {
        if let verdict = tracker.verdict(of: lock.entry.name), locks[lock.entry.name] == lock { return verdict }
        let now = environment.now()
        return tracker.classify(lock.entry, evidence: evidence(of: lock, at: now), at: now)
    }

    /// The contention statistics of the lock `name`.
    public func statistics(forLock name: String) -> ContentionStatistics {
        tracker.statistics(forLock: name)
    }

    public func takeChanges() -> MonitorChanges {
        tracker.takeChanges()
    }

    /// How long the server has left a PING unanswered, when that is over a second: what the
    /// header shows before a call times out. Nil while it answers.
    public var unansweredFor: TimeInterval? {
        guard let sent = pingSent, case let waited = environment.now().timeIntervalSince(sent), waited >= 1.5 else {
            return nil
        }
        return waited
    }

    /// Makes an operator over this monitor's connection, judge and clock; nil while reconnecting.
    public func makeOperator(breaker: LockBreaker) -> RedisLockOperator? {
        reader.map { RedisLockOperator(reader: $0, judge: judge, environment: environment, breaker: breaker) }
    }

    // MARK: Changes

    /// Reads the keyspace notifications queued and reads each key they name again.
    public func processChanges() -> [MonitorEvent] {
        guard let subscription, let reader else { return [] }
        let now = environment.now()
        do {
            var names: [[UInt8]] = []
            for message in try subscription.availableReplies() {
                // A subscribed connection answers PING with ["pong", ""].
                if message.elements?.first?.text == "pong" {
                    pingSent = nil
                    continue
                }
                guard let parts = message.elements, parts.count == 4, parts[0].text == "pmessage",
                    let channel = parts[2].bytes,
                    let colon = channel.firstIndex(of: UInt8(ascii: ":"))
                else { continue }
                var name = Array(channel[(colon + 1)...])
                if name.starts(with: Self.heartbeatPrefix) {
                    heartbeatsChanged = true
                    continue
                }
                // A companion written or gone: its lock is read again, with it.
                if name.starts(with: Self.holderRecordPrefix) {
                    name = Array(configuration.prefix.utf8) + name.dropFirst(Self.holderRecordPrefix.count)
                }
                if !names.contains(name) { names.append(name) }
            }
            var events: [MonitorEvent] = []
            for name in names {
                let fresh = try reader.lock(named: name, now: now, previous: heartbeats)
                if let fresh { remember(fresh) }
                let key = fresh?.lock.key ?? Self.key(of: name, prefix: configuration.prefix)
                events += update(RedisLockEntry.name(ofKey: key), to: fresh, at: now)
            }
            return events
        } catch {
            return disconnect(error, at: now)
        }
    }

    /// Handles time: reconnects, reads everything when due, settles removals waiting for their
    /// audit line, and judges again what time alone may have changed.
    public func tick() -> [MonitorEvent] {
        let now = environment.now()
        var events: [MonitorEvent] = []
        if case .reconnecting(let at) = mode {
            guard now >= at else { return [] }
            return reconnect(at: now)
        }
        if let subscription {
            if let sent = pingSent {
                // No answer within the call timeout: the server is as good as gone.
                if now.timeIntervalSince(sent) >= configuration.timeout {
                    return disconnect(.timedOut(server: location, operation: "a PING"), at: now)
                }
            } else {
                do {
                    try subscription.send([[Array("PING".utf8)]])
                    pingSent = now
                } catch {
                    return disconnect(error, at: now)
                }
            }
        }
        let interval = usesNotifications ? configuration.resyncInterval : configuration.pollInterval
        do {
            if now.timeIntervalSince(lastRead) >= interval { events += try readAll(at: now) }
            if heartbeatsChanged || now.timeIntervalSince(heartbeatsRead) >= Self.heartbeatReadInterval {
                events += try readHeartbeats(at: now)
            }
        } catch {
            return events + disconnect(error, at: now)
        }
        for (name, pending) in pendingRemovals.sorted(by: { $0.key < $1.key }) {
            let audit = auditTail?.take(lockFile: path(ofLock: name), holder: pending.holder)
            guard audit != nil || now.timeIntervalSince(pending.since) >= Self.auditWait else { continue }
            pendingRemovals[name] = nil
            events += tracker.settleRemoval(of: name, at: now, removal: audit.map(Self.breakRemoval))
        }
        events += lateBreaks(at: now)
        // What is due on the schedule, and every 5 s the locks naming a local process: an idle
        // database costs what is due, not what is there.
        for name in tracker.dueNames(at: now).names.union(closelyWatched).sorted() {
            guard let lock = locks[name] else { continue }
            events += tracker.judge(lock.entry, evidence: evidence(of: lock, at: now), at: now)
        }
        return events
    }

    // MARK: Internals

    private static let heartbeatPrefix = Array(RedisLockStore.heartbeatPrefix.utf8)
    private static let holderRecordPrefix = Array(RedisLockStore.holderRecordPrefix.utf8)

    /// What `lock`'s companion, heartbeat and flow run say, at `now`.
    private func evidence(of lock: RedisLockEntry, at now: Date) -> LockEvidence {
        lock.evidence(environment: environment, now: now)
    }

    /// Keeps `lock`'s heartbeat reading, which dates the key's expiry when a later reading finds it gone.
    private func remember(_ lock: RedisLockEntry) {
        if let name = lock.record?.heartbeatName, let heartbeat = lock.heartbeat { heartbeats[name] = heartbeat }
    }

    /// Reads every heartbeat key the locks' companions name (one pipelined `PTTL`), and judges
    /// again each lock whose heartbeat stopped or came back.
    private func readHeartbeats(at now: Date) throws(RedisError) -> [MonitorEvent] {
        guard let reader else { return [] }
        heartbeatsRead = now
        heartbeatsChanged = false
        let named = locks.values.compactMap { lock in lock.record?.heartbeatName.map { (lock, $0) } }
        heartbeats = try reader.heartbeats(Set(named.map(\.1)), now: now, previous: heartbeats)
        var events: [MonitorEvent] = []
        for (lock, name) in named.sorted(by: { $0.0.entry.name < $1.0.entry.name }) {
            guard let fresh = heartbeats[name] else { continue }
            var updated = lock
            updated.heartbeat = fresh
            locks[lock.entry.name] = updated
            if fresh.isBeating != lock.heartbeat?.isBeating {
                events += tracker.judge(updated.entry, evidence: evidence(of: updated, at: now), at: now)
            }
        }
        return events
    }

    /// Reads every lock and reports each difference.
    private func readAll(at now: Date) throws(RedisError) -> [MonitorEvent] {
        guard let reader else { return [] }
        lastRead = now
        let raw = try reader.store.locks()
        // Most locks are as they were: only the ones that changed become entries and are updated.
        var fresh: [String: RedisLock] = [:]
        var changed: [String] = []
        for lock in raw {
            let name = RedisLockEntry.name(ofKey: lock.key)
            fresh[name] = lock
            if let old = locks[name], Self.isSame(old, lock, at: now) { continue }
            changed.append(name)
        }
        changed += locks.keys.filter { fresh[$0] == nil }
        guard !changed.isEmpty else { return [] }
        reader.keepFirstSeen(of: raw)
        let entries = try reader.entries(of: changed.compactMap { fresh[$0] }, now: now, previous: heartbeats)
        var read: [String: RedisLockEntry] = [:]
        for entry in entries {
            read[entry.entry.name] = entry
            remember(entry)
        }
        var events: [MonitorEvent] = []
        for name in changed.sorted() { events += update(name, to: read[name], at: now) }
        return events
    }

    /// Takes `fresh` (nil: gone) as the lock `name`, and returns the events of the change.
    private func update(_ name: String, to fresh: RedisLockEntry?, at now: Date) -> [MonitorEvent] {
        let old = locks[name]
        // Nothing known and nothing there (a second event of a removal that waits for its audit line).
        if old == nil && fresh == nil { return [] }
        if let old, let fresh, Self.isSame(old, fresh.lock, at: now) { return [] }
        locks[name] = fresh
        var events: [MonitorEvent] = []
        if fresh != nil, let pending = pendingRemovals.removeValue(forKey: name) {
            // A new holder came before the old one's removal was settled: settle it now.
            let audit = auditTail?.take(lockFile: path(ofLock: name), holder: pending.holder)
            if audit == nil { rememberUnexplained(pending.holder, of: name, at: pending.since) }
            events += tracker.settleRemoval(of: name, at: now, removal: audit.map(Self.breakRemoval))
        }
        func take(removal: TransitionLedger.Removal? = nil, isSetAside: Bool = false) -> [MonitorEvent] {
            events
                + tracker.update(
                    name, from: old?.entry, to: fresh?.entry,
                    evidence: fresh.map { evidence(of: $0, at: now) } ?? .none,
                    at: now, removal: removal,
                    isSetAside: isSetAside)
        }
        guard let old, fresh == nil || fresh?.lock.holder != old.lock.holder else { return take() }
        let audit = auditTail?.take(lockFile: old.entry.path, holder: old.lock.holderText)
        // Gone at its expiration, with no break logged: Redis expired it, and its holder may not know.
        if audit == nil, fresh == nil, let expiration = old.entry.content?.expiration,
            expiration <= now.addingTimeInterval(0.25)
        {
            return take(removal: Self.timeToLiveRanOut)
        }
        if audit == nil && fresh == nil {
            pendingRemovals[name] = (old.lock.holderText, now)
            return take(isSetAside: true)
        }
        if audit == nil { rememberUnexplained(old.lock.holderText, of: name, at: now) }
        return take(removal: audit.map(Self.breakRemoval))
    }

    /// The `broken` events of locks already announced `released`, whose break's line came since:
    /// a break deletes, then logs, and a waiter may take the key in between (found by the soak).
    private func lateBreaks(at now: Date) -> [MonitorEvent] {
        var events: [MonitorEvent] = []
        for (name, releases) in releasedUnexplained.sorted(by: { $0.key < $1.key }) {
            var waiting: [(holder: String?, since: Date)] = []
            for released in releases {
                if let audit = auditTail?.take(lockFile: path(ofLock: name), holder: released.holder) {
                    events.append(
                        .broken(
                            by: audit, key: RecordKey.shownKey(ofLockName: name), holder: released.holder,
                            detail:
                                "announced released at first: a new holder took the key before the break's line came",
                            at: now))
                } else if now.timeIntervalSince(released.since) < Self.auditWait {
                    waiting.append(released)
                }
            }
            releasedUnexplained[name] = waiting.isEmpty ? nil : waiting
        }
        return events
    }

    /// Keeps `holder`'s release of `name` for ``lateBreaks(at:)``, with at most
    /// ``keptUnexplainedReleases`` a lock: each expires within ``auditWait`` anyway.
    private func rememberUnexplained(_ holder: String?, of name: String, at since: Date) {
        var releases = releasedUnexplained[name, default: []]
        releases.append((holder, since))
        releasedUnexplained[name] = Array(releases.suffix(Self.keptUnexplainedReleases))
    }

    /// Whether `fresh`, read at `now`, is the lock `old` read again: the same token and companion,
    /// and an expiration that moved no more than a read's own jitter (the TTL counts down between reads).
    private static func isSame(_ old: RedisLockEntry, _ fresh: RedisLock, at now: Date) -> Bool {
        guard old.lock.holder == fresh.holder, old.lock.holderRecord == fresh.holderRecord else { return false }
        switch (old.entry.content?.expiration, fresh.timeToLive) {
        case (nil, nil): return true
        case (let expiration?, let ttl?): return abs(expiration.timeIntervalSince(now) - Double(ttl) / 1000) < 0.5
        default: return false
        }
    }

    /// How a lock whose TTL ran out left.
    private static let timeToLiveRanOut = TransitionLedger.Removal(
        removal: .expired, processID: nil,
        why: "its TTL ran out: Redis expired it, and its holder may still be running")

    private static func breakRemoval(_ audit: AuditLog.Entry) -> TransitionLedger.Removal {
        TransitionLedger.Removal(removal: .operatorBreak, processID: nil, audit: audit)
    }

    /// The audit log's location of the lock `name`: the server and the whole key.
    private func path(ofLock name: String) -> String {
        locks[name]?.entry.path
            ?? "\(configuration.url) \(configuration.prefix)\(RecordKey.shownKey(ofLockName: name))"
    }

    private static func key(of name: [UInt8], prefix: String) -> String {
        let prefixBytes = Array(prefix.utf8)
        return String(
            decoding: name.starts(with: prefixBytes) ? Array(name.dropFirst(prefixBytes.count)) : name, as: UTF8.self)
    }

    /// Connects both connections and reads every lock.
    private func connect() throws(RedisError) {
        let store = RedisLockStore(
            connection: try RedisConnection(
                url: configuration.url, timeout: configuration.timeout,
                certificateAuthorities: configuration.certificateAuthorities),
            prefix: configuration.prefix)
        let reader = RedisLockReader(store: store, firstSeen: firstSeen)
        self.reader = reader
        subscribe(store.connection)
        let now = environment.now()
        lastRead = now
        heartbeatsRead = now
        for lock in try reader.locks(now: now) {
            locks[lock.entry.name] = lock
            remember(lock)
        }
        firstSeen = reader.firstSeen
    }

    /// Subscribes to the prefix's keyspace notifications when the server sends them (or may be
    /// told to); else polls, and says why.
    private func subscribe(_ connection: RedisConnection) {
        usesNotifications = false
        mode = .polling(interval: configuration.pollInterval)
        let polling = "polling every \(DurationText.format(configuration.pollInterval))"
        let flags = (try? connection.command(["CONFIG", "GET", "notify-keyspace-events"]))?.elements?.last?.text
        guard let flags else {
            // Managed Redis and least-privilege users often forbid CONFIG: subscribe anyway, and poll
            // too, since nothing says the events are on.
            if subscribeToKeyspace(polling: polling) {
                usesNotifications = false
                mode = .polling(interval: configuration.pollInterval)
                notice =
                    "redis: cannot read notify-keyspace-events (CONFIG is not allowed); subscribed to keyspace events, and \(polling) in case they are off"
            } else {
                notice = "redis: cannot read notify-keyspace-events (CONFIG is not allowed); \(polling)"
            }
            return
        }
        if !Self.notifies(flags) {
            guard configuration.enablesNotifications else {
                notice =
                    "redis: keyspace notifications are off (notify-keyspace-events=\"\(flags)\"); \(polling); --enable-notifications turns them on"
                return
            }
            let merged = Self.merged(flags)
            if case .error(let message)? = try? connection.command(["CONFIG", "SET", "notify-keyspace-events", merged])
            {
                notice = "redis: cannot turn keyspace notifications on (\(message)); \(polling)"
                return
            }
        }
        if subscribeToKeyspace(polling: polling) {
            usesNotifications = true
            mode = .notifications
        }
    }

    /// Subscribes a second connection to the prefix's keyspace channel; false (with a notice) when it cannot.
    private func subscribeToKeyspace(polling: String) -> Bool {
        do {
            let channel = try RedisConnection(
                url: configuration.url, timeout: configuration.timeout, name: "locktop-events",
                certificateAuthorities: configuration.certificateAuthorities)
            let pattern = { (prefix: String) in
                "__keyspace@\(self.configuration.url.database)__:\(RedisLockStore.globEscaped(prefix))*"
            }
            let deadline = Date().addingTimeInterval(configuration.timeout)
            try channel.send([["PSUBSCRIBE", pattern(configuration.prefix)].map { Array($0.utf8) }])
            if case .error(let message) = try channel.reply(until: deadline) {
                notice = "redis: cannot subscribe to \(pattern(configuration.prefix)) (\(message)); \(polling)"
                return false
            }
            // The helper's companions and heartbeats, when this user may see them: else a changed
            // companion shows at the next full read, and heartbeats are read every second anyway.
            let helper = [RedisLockStore.holderRecordPrefix, RedisLockStore.heartbeatPrefix].map(pattern)
            try channel.send([(["PSUBSCRIBE"] + helper).map { Array($0.utf8) }])
            if case .error = try channel.reply(until: deadline) {} else { _ = try channel.reply(until: deadline) }
            subscription = channel
            return true
        } catch {
            notice = "redis: cannot subscribe to keyspace notifications (\(error)); \(polling)"
            return false
        }
    }

    /// Whether `flags` send the keyspace events of string locks: set, del, expire, expired.
    static func notifies(_ flags: String) -> Bool {
        flags.contains("K")
            && (flags.contains("A") || (flags.contains("$") && flags.contains("g") && flags.contains("x")))
    }

    /// `flags` with what locktop needs added, keeping every flag the server had.
    static func merged(_ flags: String) -> String {
        var merged = flags
        for flag in "K$gx" where !merged.contains(flag) && !(flag != "K" && merged.contains("A")) {
            merged.append(flag)
        }
        return merged
    }

    /// Drops both connections after `error` and schedules a reconnection.
    private func disconnect(_ error: RedisError, at now: Date) -> [MonitorEvent] {
        reader = nil
        subscription = nil
        pingSent = nil
        mode = .reconnecting(at: now.addingTimeInterval(retryDelay))
        tracker.noteEverythingChanged()
        return [
            MonitorEvent(
                time: now, kind: .disconnected, key: location,
                detail: "\(error); reconnecting in \(DurationText.format(retryDelay))")
        ]
    }

    /// Tries to connect again: on success, reads everything and reports what changed meanwhile.
    private func reconnect(at now: Date) -> [MonitorEvent] {
        let known = locks
        locks = [:]
        do {
            try connect()
        } catch {
            locks = known
            retryDelay = min(30, retryDelay * 2)
            mode = .reconnecting(at: now.addingTimeInterval(retryDelay))
            return []
        }
        retryDelay = 1
        let fresh = locks
        locks = known
        tracker.noteEverythingChanged()
        var events = [
            MonitorEvent(time: now, kind: .reconnected, key: location, detail: "\(location) is back; \(watchText)")
        ]
        for name in Set(known.keys).union(fresh.keys).sorted() { events += update(name, to: fresh[name], at: now) }
        return events
    }
}
