import Dashboard
import Foundation
import LockMonitor
import Prometheus
import Synchronization

/// locktop's Prometheus metrics (documented in docs/metrics.md), over swift-prometheus's registry,
/// which writes the exposition and escapes label values. The gauges are set from the dashboard's
/// tallies (``DashboardData``), kept up to date by patches, never by a rescan; the counters follow
/// the monitor's events.
public final class LockMetrics: Sendable {
    /// The `source` label: the directory or Redis server, its length bounded.
    public let source: String
    /// The `state` label values of `locktop_locks`: a held lock whose holder cannot be judged is `held_unknown`.
    public static let stateLabels = ["held", "held_unknown", "suspect", "expired", "stale", "unreadable", "writing"]
    /// The `reason` label values of `locktop_breaks_total`: the verdict a break was made on.
    public static let breakReasons = ["expired", "stale", "suspect", "forced", "other"]
    /// The longest label value written; a longer one is cut, ending in `…` and a digest of the whole.
    public static let maximumLabelLength = 200

    private let locks: [String: Gauge]
    private let waiters: Gauge
    private let blockedWaiters: Gauge
    private let deadlocks: Gauge
    private let possibleDeadlocks: Gauge
    private let sourceUp: Gauge
    private let lastChange: Gauge
    private let acquisitions: Counter
    private let releases: Counter
    private let expirations: Counter
    private let breaks: [String: Counter]
    private let holds: ValueHistogram
    private let handOffs: ValueHistogram
    private let waits: ValueHistogram
    /// When each key was last released, for the hand-off that may follow; at most
    /// ``trackedReleases`` keys, the names coming from whoever writes the directory.
    private let releasedAt = Mutex<[String: Date]>([:])
    /// The most released keys remembered for hand-offs.
    static let trackedReleases = 10_000
    /// A release followed by an acquisition of the same key within this is a hand-off.
    static let handOffWindow: TimeInterval = 60
    /// The buckets of the duration histograms, in seconds: Prefect's tasks hold for milliseconds to hours.
    public static let durationBuckets: [Double] = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600]

    /// The per-lock series, with `--key-labels`.
    private let keys: KeyMetrics?

    /// Metrics for one `source`, made in `registry`; with `keyLabels`, per-lock series for at most
    /// `maximumKeys` of its locks.
    public init(
        source: String, registry: PrometheusCollectorRegistry, keyLabels: Bool = false, maximumKeys: Int = 500
    ) {
        let source = Self.labelValue(source)
        self.source = source
        let labels = [("source", source)]
        locks = Dictionary(
            uniqueKeysWithValues: Self.stateLabels.map { state in
                (
                    state,
                    registry.makeGauge(
                        descriptor: Self.name("locks", unit: "", help: "Locks in each state, by their one verdict"),
                        labels: labels + [("state", state)])
                )
            })
        waiters = registry.makeGauge(descriptor: Self.waitersDescriptor, labels: labels)
        blockedWaiters = registry.makeGauge(
            descriptor: Self.name(
                "blocked_waiters", unit: "", help: "Waiting processes blocked behind a dead or unknown holder"),
            labels: labels)
        deadlocks = registry.makeGauge(
            descriptor: Self.name(
                "deadlocks", unit: "", help: "Cycles of processes each waiting for a lock the next one holds, all alive"
            ),
            labels: labels)
        possibleDeadlocks = registry.makeGauge(
            descriptor: Self.name(
                "possible_deadlocks", unit: "",
                help: "Such cycles through a holder that is not known to be alive"),
            labels: labels)
        sourceUp = registry.makeGauge(
            descriptor: Self.name("source_up", unit: "", help: "1 while the directory or server can be read"),
            labels: labels)
        lastChange = registry.makeGauge(
            descriptor: Self.name(
                "source_last_change_timestamp", unit: "seconds",
                help: "When a lock of the source last changed, in Unix seconds"), labels: labels)
        acquisitions = registry.makeCounter(
            descriptor: Self.name("acquisitions", unit: "total", help: "Locks taken, as the watch saw them"),
            labels: labels)
        releases = registry.makeCounter(
            descriptor: Self.name("releases", unit: "total", help: "Locks released by their holders"), labels: labels)
        expirations = registry.makeCounter(
            descriptor: Self.name("expirations", unit: "total", help: "Locks that passed their expiration while held"),
            labels: labels)
        breaks = Dictionary(
            uniqueKeysWithValues: Self.breakReasons.map { reason in
                (
                    reason,
                    registry.makeCounter(
                        descriptor: Self.name(
                            "breaks", unit: "total",
                            help: "Locks broken by an operator, by the verdict the break was made on"),
                        labels: labels + [("reason", reason)])
                )
            })
        holds = registry.makeValueHistogram(
            descriptor: Self.name(
                "hold_duration", unit: "seconds", help: "How long locks were held, to their release or break"),
            labels: labels, buckets: Self.durationBuckets)
        handOffs = registry.makeValueHistogram(
            descriptor: Self.name(
                "handoff_duration", unit: "seconds", help: "From a release to the next acquisition of the same lock"),
            labels: labels, buckets: Self.durationBuckets)
        waits = registry.makeValueHistogram(
            descriptor: Self.name(
                "wait_duration", unit: "seconds",
                help: "How long processes waited for a lock, from their first read to taking it or to their last read"),
            labels: labels, buckets: Self.durationBuckets)
        keys = keyLabels ? KeyMetrics(registry: registry, source: source, maximumKeys: maximumKeys) : nil
    }

    /// `locktop_lock_waiters`, with or without a `key` label (one help text for both).
    static var waitersDescriptor: MetricNameDescriptor {
        name(
            "lock_waiters", unit: "", help: "Processes waiting for a lock, as fanotify sees them")
    }

    /// The `state` label of a lock row: a held lock whose holder cannot be judged is `held_unknown`.
    static func stateLabel(of row: LockRow) -> String {
        row.isHeldByUnknownProcess ? "held_unknown" : row.state?.rawValue ?? "none"
    }

    /// Sets the per-lock series (with `--key-labels`) of the rows `upserts` and drops those of `removals`.
    public func updateKeys(upserts: [LockRow], removals: some Sequence<RowID>) {
        guard let keys else { return }
        for id in removals { keys.remove(id) }
        for row in upserts where row.lockName != nil { keys.update(row) }
    }

    /// Sets the gauges from the tallies of `data`.
    public func update(from data: DashboardData) {
        for state in LockState.allCases {
            let count = data.count(state)
            if state == .held {
                locks["held"]?.set(Double(count - data.unknownHolderCount))
                locks["held_unknown"]?.set(Double(data.unknownHolderCount))
            } else {
                locks[state.rawValue]?.set(Double(count))
            }
        }
        waiters.set(Double(data.waiterCount))
        blockedWaiters.set(Double(data.blockedWaiterCount))
        let certain = data.deadlocks.filter(\.isCertain).count
        deadlocks.set(Double(certain))
        possibleDeadlocks.set(Double(data.deadlocks.count - certain))
        sourceUp.set(data.missingDirectories.isEmpty && data.storeTrouble == nil ? Double(1) : 0)
    }

    /// Counts what `events` say happened, and when the source last changed.
    public func record(_ events: [MonitorEvent]) {
        for event in events {
            switch event.kind {
            case .acquired:
                acquisitions.increment()
                if let released = releasedAt.withLock({ $0.removeValue(forKey: event.key) }),
                    event.time.timeIntervalSince(released) <= Self.handOffWindow
                {
                    handOffs.record(max(0, event.time.timeIntervalSince(released)))
                }
            case .released:
                releases.increment()
                if let held = event.heldSeconds { holds.record(held) }
                noteRelease(of: event.key, at: event.time)
            case .expired: expirations.increment()
            case .waited:
                if let waited = event.waitedSeconds { waits.record(waited) }
                continue
            case .broken:
                breaks[Self.breakReason(event.reason)]?.increment()
                if let held = event.heldSeconds { holds.record(held) }
            default: continue
            }
            lastChange.set(event.time.timeIntervalSince1970)
        }
    }

    /// Remembers the release of `key`, forgetting releases older than the hand-off window when
    /// too many keys are remembered.
    private func noteRelease(of key: String, at time: Date) {
        releasedAt.withLock { released in
            released[key] = time
            if released.count > Self.trackedReleases {
                released = released.filter { time.timeIntervalSince($0.value) <= Self.handOffWindow }
                if released.count > Self.trackedReleases { released = [key: time] }
            }
        }
    }

    /// The `reason` label of a break whose audit reason is `reason` (`expired: expired 12s ago`,
    /// `forced: held: …`): its first word, when it is one of ``breakReasons``.
    static func breakReason(_ reason: String?) -> String {
        let word = reason.map { String($0.prefix { $0 != ":" }) } ?? ""
        return breakReasons.contains(word) ? word : "other"
    }

    /// The descriptor of `locktop_<name>[_<unit>]`.
    static func name(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "locktop", metricName: name, unitName: unit, helpText: help)
    }

    /// `value` as a label value: at most ``maximumLabelLength`` characters, a longer one cut and
    /// told apart from others cut alike by a digest of the whole (FNV-1a). The registry escapes it.
    static func labelValue(_ value: String) -> String {
        guard value.count > maximumLabelLength else { return value }
        let digest = value.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 }
        let suffix = "…" + String(digest, radix: 16)
        return String(value.prefix(maximumLabelLength - suffix.count)) + suffix
    }
}
