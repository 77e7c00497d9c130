import Foundation

/// How contended one lock is: acquisitions, hand-offs, hold times, and the poll pressure of waiters.
public struct ContentionStatistics: Equatable, Sendable {
    /// Acquisitions seen.
    public var acquisitions = 0
    /// Acquisitions by a different holder within ``handOffWindow`` of the previous release.
    public var handOffs = 0
    /// Releases seen with a known start, used for the mean.
    public var completedHolds = 0
    /// The last completed hold, in seconds.
    public var lastHold: TimeInterval?
    /// The longest completed hold, in seconds.
    public var maxHold: TimeInterval?
    /// Total seconds of completed holds.
    public var totalHold: TimeInterval = 0
    /// Who released last and when.
    public var lastRelease: (holder: String?, time: Date)?
    /// When other processes read the lock file (`IN_CLOSE_NOWRITE`), within the pressure window.
    public var openTimes: [Date] = []
    /// The last ``recentHoldLimit`` completed holds, oldest first.
    public private(set) var recentHolds: [TimeInterval] = []
    /// The acquisitions of the last ``rateWindow``, oldest first.
    public private(set) var recentAcquisitions: [Date] = []
    /// The waits that ended within ``waitHistoryWindow``, oldest first: from the waiter's first
    /// read to when it took the lock or stopped reading.
    public private(set) var recentWaits: [(start: Date, end: Date)] = []

    /// A release followed this quickly by another holder's acquisition is a hand-off.
    public static let handOffWindow: TimeInterval = 1
    /// The window over which the open rate is measured.
    public static let pressureWindow: TimeInterval = 5
    /// How many completed holds ``typicalHold`` is taken over.
    public static let recentHoldLimit = 64
    /// How many completed holds it takes to have a ``typicalHold`` at all.
    public static let holdsForHistory = 5
    /// The window ``acquisitionsPerMinute(now:)`` counts over.
    public static let rateWindow: TimeInterval = 60
    /// How long ended waits are kept: the dashboard's sparkline spans it.
    public static let waitHistoryWindow: TimeInterval = 600
    /// The window of the `hot` sort: the time waited in it.
    public static let hotWindow: TimeInterval = 300

    /// Creates empty statistics.
    public init() {}

    /// The mean completed hold, in seconds.
    public var meanHold: TimeInterval? { completedHolds > 0 ? totalHold / Double(completedHolds) : nil }

    /// The 95th percentile of the recent completed holds, once there are ``holdsForHistory`` of them.
    public var typicalHold: TimeInterval? {
        guard recentHolds.count >= Self.holdsForHistory else { return nil }
        return Percentile.of(recentHolds.sorted(), 0.95)
    }

    /// Records an acquisition by `holder` at `time`; returns the holder it was handed off from, if
    /// it was a hand-off (nil when that holder is not known by name).
    @discardableResult
    public mutating func recordAcquisition(holder: String?, at time: Date) -> (handOff: Bool, from: String?) {
        acquisitions += 1
        recentAcquisitions.append(time)
        recentAcquisitions.removeAll { time.timeIntervalSince($0) > Self.rateWindow }
        if let lastRelease, time.timeIntervalSince(lastRelease.time) <= Self.handOffWindow, lastRelease.holder != holder
        {
            handOffs += 1
            return (true, lastRelease.holder)
        }
        return (false, nil)
    }

    /// Records a release of a lock taken at `acquired`.
    public mutating func recordRelease(holder: String?, acquired: Date, at time: Date) {
        let hold = max(0, time.timeIntervalSince(acquired))
        lastHold = hold
        maxHold = max(maxHold ?? 0, hold)
        totalHold += hold
        completedHolds += 1
        lastRelease = (holder, time)
        recentHolds.append(hold)
        if recentHolds.count > Self.recentHoldLimit { recentHolds.removeFirst() }
    }

    /// Records a wait that ran from `start` to `end`.
    public mutating func recordWait(from start: Date, to end: Date) {
        recentWaits.append((start, end))
        recentWaits.removeAll { end.timeIntervalSince($0.end) > Self.waitHistoryWindow }
    }

    /// Acquisitions in the last minute.
    public func acquisitionsPerMinute(now: Date) -> Int {
        recentAcquisitions.count { now.timeIntervalSince($0) <= Self.rateWindow }
    }

    /// The seconds waited within the last ``hotWindow`` by the waits that ended, and by `ongoing`
    /// ones (their first reads) up to `now`.
    public func timeWaited(now: Date, ongoing: [Date]) -> TimeInterval {
        let from = now.addingTimeInterval(-Self.hotWindow)
        let spans = recentWaits + ongoing.map { ($0, now) }
        return spans.reduce(0) { total, span in total + max(0, min(span.1, now).timeIntervalSince(max(span.0, from))) }
    }

    /// The most of `spans` (waits, from start to end) that overlap at one moment.
    public static func depth(of spans: [(Date, Date)]) -> Int {
        // Ends sort before starts at one instant: a hand-off is not two at once.
        let moments = spans.flatMap { [($0.0, 1), ($0.1, -1)] }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        var depth = 0
        var deepest = 0
        for (_, change) in moments {
            depth += change
            deepest = max(deepest, depth)
        }
        return deepest
    }

    /// The most of `spans` that overlap within each of `count` equal slices of `span`: how many
    /// waited over time, as a sparkline draws it.
    public static func waiterCounts(of spans: [(Date, Date)], over span: ClosedRange<Date>, slices count: Int)
        -> [Int]
    {
        guard count > 0 else { return [] }
        let length = max(span.upperBound.timeIntervalSince(span.lowerBound), 0.001) / Double(count)
        return (0..<count).map { index in
            let start = span.lowerBound.addingTimeInterval(Double(index) * length)
            let end = start.addingTimeInterval(length)
            return depth(
                of: spans.compactMap { spanStart, spanEnd in
                    spanEnd > start && spanStart < end ? (max(spanStart, start), min(spanEnd, end)) : nil
                })
        }
    }

    /// Records a read of the lock file by another process.
    public mutating func recordOpen(at time: Date) {
        openTimes.append(time)
        trim(now: time)
    }

    /// Lock file opens per second by other processes over the last few seconds. Prefect's waiters
    /// open the lock file about 10 times a second each and the kernel merges identical events,
    /// so this is a lower bound that rises with contention.
    public func pollRate(now: Date) -> Double {
        let recent = openTimes.filter { now.timeIntervalSince($0) <= Self.pressureWindow }
        return Double(recent.count) / Self.pressureWindow
    }

    private mutating func trim(now: Date) {
        if let first = openTimes.first, now.timeIntervalSince(first) > Self.pressureWindow {
            openTimes.removeAll { now.timeIntervalSince($0) > Self.pressureWindow }
        }
    }

    public static func == (lhs: ContentionStatistics, rhs: ContentionStatistics) -> Bool {
        lhs.acquisitions == rhs.acquisitions && lhs.handOffs == rhs.handOffs && lhs.completedHolds == rhs.completedHolds
            && lhs.lastHold == rhs.lastHold && lhs.maxHold == rhs.maxHold && lhs.totalHold == rhs.totalHold
            && lhs.openTimes == rhs.openTimes && lhs.lastRelease?.holder == rhs.lastRelease?.holder
            && lhs.lastRelease?.time == rhs.lastRelease?.time && lhs.recentHolds == rhs.recentHolds
            && lhs.recentAcquisitions == rhs.recentAcquisitions
            && lhs.recentWaits.map(\.start) == rhs.recentWaits.map(\.start)
            && lhs.recentWaits.map(\.end) == rhs.recentWaits.map(\.end)
    }
}
