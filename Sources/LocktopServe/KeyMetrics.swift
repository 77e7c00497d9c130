import Dashboard
import Foundation
import Prometheus
import Synchronization

/// The per-lock series of `serve --key-labels`: each lock's state, when it was taken, when it
/// expires and its waiters, labelled with its key. At most `maximumKeys` locks get series of their
/// own; the others are folded into `key="__other__"` (their counts by state, their waiters summed),
/// as redis_exporter folds its keys, so a directory that anyone can fill cannot grow the
/// exposition without bound.
final class KeyMetrics: Sendable {
    /// The `key` label of the folded locks.
    static let otherKey = "__other__"

    private let registry: PrometheusCollectorRegistry
    private let source: String
    private let maximumKeys: Int
    private let store = Mutex(Store())

    /// The series of one lock.
    private struct Series {
        var key: String
        var stateName: String
        var state: Gauge
        var acquired: Gauge
        var expiry: Gauge?
        var waiters: Gauge
    }

    private struct Store {
        var series: [RowID: Series] = [:]
        /// The folded locks: their state and waiters, so that the totals can be taken back.
        var folded: [RowID: (state: String, waiters: Int)] = [:]
        var otherStates: [String: Gauge] = [:]
        var otherCounts: [String: Int] = [:]
        var otherWaiters: Gauge?
        var otherWaiterCount = 0
    }

    init(registry: PrometheusCollectorRegistry, source: String, maximumKeys: Int) {
        self.registry = registry
        self.source = source
        self.maximumKeys = maximumKeys
    }

    /// Sets the series of the lock `row` (a lock row; records have none).
    func update(_ row: LockRow) {
        guard row.lockName != nil, row.state != nil else { return remove(row.id) }
        let stateName = LockMetrics.stateLabel(of: row)
        store.withLock { store in
            if var series = store.series[row.id] {
                set(&series, from: row, stateName: stateName)
                store.series[row.id] = series
                return
            }
            if store.folded[row.id] != nil || store.series.count >= maximumKeys {
                unfold(row.id, in: &store)
                fold(row.id, state: stateName, waiters: row.waiters.count, in: &store)
                return
            }
            let key = LockMetrics.labelValue(row.key)
            let labels = [("source", source), ("key", key)]
            var series = Series(
                key: key, stateName: stateName, state: stateGauge(key: key, state: stateName),
                acquired: registry.makeGauge(descriptor: Self.acquired, labels: labels), expiry: nil,
                waiters: registry.makeGauge(descriptor: LockMetrics.waitersDescriptor, labels: labels))
            set(&series, from: row, stateName: stateName)
            store.series[row.id] = series
        }
    }

    /// Drops the series (or the folded share) of the lock `id`, which is gone.
    func remove(_ id: RowID) {
        store.withLock { store in
            if let series = store.series.removeValue(forKey: id) {
                registry.unregisterGauge(series.state)
                registry.unregisterGauge(series.acquired)
                registry.unregisterGauge(series.waiters)
                if let expiry = series.expiry { registry.unregisterGauge(expiry) }
            }
            unfold(id, in: &store)
        }
    }

    private func set(_ series: inout Series, from row: LockRow, stateName: String) {
        if series.stateName != stateName {
            registry.unregisterGauge(series.state)
            series.state = stateGauge(key: series.key, state: stateName)
            series.stateName = stateName
        }
        series.acquired.set(row.since?.timeIntervalSince1970 ?? 0)
        series.waiters.set(Double(row.waiters.count))
        switch (row.expiration, series.expiry) {
        case (let expiration?, let gauge?):
            gauge.set(expiration.timeIntervalSince1970)
        case (let expiration?, nil):
            let gauge = registry.makeGauge(
                descriptor: Self.expiry, labels: [("source", source), ("key", series.key)])
            gauge.set(expiration.timeIntervalSince1970)
            series.expiry = gauge
        case (nil, let gauge?):
            registry.unregisterGauge(gauge)
            series.expiry = nil
        case (nil, nil):
            break
        }
    }

    private func stateGauge(key: String, state: String) -> Gauge {
        let gauge = registry.makeGauge(
            descriptor: Self.state, labels: [("source", source), ("key", key), ("state", state)])
        gauge.set(Double(1))
        return gauge
    }

    private func fold(_ id: RowID, state: String, waiters: Int, in store: inout Store) {
        store.folded[id] = (state, waiters)
        store.otherCounts[state, default: 0] += 1
        store.otherWaiterCount += waiters
        let gauge =
            store.otherStates[state]
            ?? registry.makeGauge(
                descriptor: Self.state, labels: [("source", source), ("key", Self.otherKey), ("state", state)])
        store.otherStates[state] = gauge
        gauge.set(Double(store.otherCounts[state] ?? 0))
        let waitersGauge =
            store.otherWaiters
            ?? registry.makeGauge(
                descriptor: LockMetrics.waitersDescriptor, labels: [("source", source), ("key", Self.otherKey)])
        store.otherWaiters = waitersGauge
        waitersGauge.set(Double(store.otherWaiterCount))
    }

    private func unfold(_ id: RowID, in store: inout Store) {
        guard let (state, waiters) = store.folded.removeValue(forKey: id) else { return }
        store.otherCounts[state, default: 1] -= 1
        store.otherWaiterCount -= waiters
        store.otherStates[state]?.set(Double(store.otherCounts[state] ?? 0))
        store.otherWaiters?.set(Double(store.otherWaiterCount))
    }

    static var state: MetricNameDescriptor {
        LockMetrics.name(
            "lock_state", unit: "", help: "1 for a lock's state (with --key-labels); for __other__, how many locks")
    }
    static var acquired: MetricNameDescriptor {
        LockMetrics.name(
            "lock_acquired_timestamp", unit: "seconds",
            help: "When a lock was taken, in Unix seconds (with --key-labels)")
    }
    static var expiry: MetricNameDescriptor {
        LockMetrics.name(
            "lock_expiry_timestamp", unit: "seconds", help: "When a lock expires, in Unix seconds (with --key-labels)")
    }
}
