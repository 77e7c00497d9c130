import Foundation
import LockMonitor
import RecordStore

/// One lock's recorded history over a span, as `report`, `stats` and the timeline read it: who
/// held it when, who waited when, and what broke or deadlocked. Built from journal entries alone.
public struct LockHistory: Sendable {
    /// A hold: from when to when (nil while it lasts at the span's end), by whom.
    public struct Hold: Equatable, Sendable {
        public var holder: String?
        /// The process that took it, when fanotify saw it.
        public var processID: Int32?
        public var start: Date
        public var end: Date?
        /// How it ended: broken by an operator rather than released.
        public var wasBroken: Bool
    }

    /// A wait: from the waiter's first read to when it took the lock or stopped reading.
    public struct Wait: Equatable, Sendable {
        public var processID: Int32?
        public var start: Date
        public var end: Date
        public var tookLock: Bool
    }

    /// The source the lock is in.
    public var source: String
    /// Its key.
    public var key: String
    /// The record keys that map to it, as last recorded.
    public var records: [String] = []
    public var holds: [Hold] = []
    public var waits: [Wait] = []
    /// Acquisitions seen.
    public var acquisitions = 0
    /// Acquisitions straight after another holder's release (`acquired` with a previous holder).
    public var handOffs = 0
    /// Completed hold times, in seconds, from the monitor's own figure.
    public var holdTimes: [Double] = []
    /// Breaks, with when.
    public var breaks: [Date] = []
    /// Deadlocks this lock was in, with when.
    public var deadlocks: [Date] = []
    /// Expirations and stale verdicts seen.
    public var expirations = 0
    public var staleVerdicts = 0

    /// The histories of every lock in `entries` (oldest first), keyed by source and key, in key
    /// order. Holds still open at the end last until `end`.
    public static func build(from entries: [Journal.Entry]) -> [LockHistory] {
        var histories: [String: LockHistory] = [:]
        func id(_ source: String, _ key: String) -> String { source + "\u{0}" + key }
        for entry in entries where entry.event.isAboutALock {
            let event = entry.event
            let keys: [String]
            if event.kind == .deadlock, let deadlock = event.deadlock {
                keys = deadlock.links.map { RecordKey.shownKey(ofLockName: $0.lockName) }
            } else {
                keys = [event.key]
            }
            for key in keys {
                var history = histories[id(entry.source, key)] ?? LockHistory(source: entry.source, key: key)
                history.take(event)
                histories[id(entry.source, key)] = history
            }
        }
        return histories.values.sorted { ($0.key, $0.source) < ($1.key, $1.source) }
    }

    private mutating func take(_ event: MonitorEvent) {
        if !event.records.isEmpty { records = event.records }
        switch event.kind {
        case .acquired:
            closeHold(at: event.time, held: nil, broken: false)
            acquisitions += 1
            if event.previousHolder != nil { handOffs += 1 }
            holds.append(
                Hold(holder: event.holder, processID: event.processID, start: event.time, end: nil, wasBroken: false))
        case .released, .broken:
            closeHold(
                at: event.time, held: event.heldSeconds, broken: event.kind == .broken, holder: event.previousHolder)
            if let held = event.heldSeconds { holdTimes.append(held) }
            if event.kind == .broken { breaks.append(event.time) }
        case .waited:
            let waited = event.waitedSeconds ?? 0
            waits.append(
                Wait(
                    processID: event.processID, start: event.time.addingTimeInterval(-waited), end: event.time,
                    tookLock: event.tookLock ?? false))
        case .deadlock: deadlocks.append(event.time)
        case .expired: expirations += 1
        case .stale: staleVerdicts += 1
        default: break
        }
    }

    /// Ends the open hold at `time`; a release with no acquisition in the span (the hold began
    /// before it) is a hold that began `held` seconds before.
    private mutating func closeHold(at time: Date, held: Double?, broken: Bool, holder: String? = nil) {
        if let last = holds.indices.last, holds[last].end == nil {
            holds[last].end = time
            holds[last].wasBroken = broken
        } else if let held {
            holds.append(Hold(holder: holder, start: time.addingTimeInterval(-held), end: time, wasBroken: broken))
        }
    }

    /// Completed wait times, in seconds.
    public var waitTimes: [Double] { waits.map { $0.end.timeIntervalSince($0.start) } }

    /// The total time waited, in seconds.
    public var totalWaited: Double { waitTimes.reduce(0, +) }

    /// The most waiters at once.
    public var deepestQueue: Int { ContentionStatistics.depth(of: waits.map { ($0.start, $0.end) }) }

    /// How many waited at once over each of `count` equal slices of `span`: its sparkline's values.
    public func waiterCounts(over span: ClosedRange<Date>, slices count: Int) -> [Int] {
        ContentionStatistics.waiterCounts(of: waits.map { ($0.start, $0.end) }, over: span, slices: count)
    }
}
