import Dashboard
import Foundation
import LockMonitor
import RecordStore

/// A recorded journal played back as a lock source: its clock is the journal's, moving at
/// `speed` times the wall clock's pace unless paused; each tick brings the events and row states
/// recorded up to the new moment. Keys step and seek it (``ReplayKeys``).
public final class ReplayLockSource: LockSource {
    private let journal: Journal
    private let path: String
    /// The source replayed: one of the journal's sources.
    public let sourceLabel: String
    private let changes: [Journal.RowChange]
    /// The journal's span.
    public let span: ClosedRange<Date>
    private let clock: ReplayClock
    private var applied = 0
    /// Each row at the clock, as recorded, by lock name.
    public private(set) var rows: [String: LockRow] = [:]
    private var pending = MonitorChanges()
    private var lastWall = MonotonicClock.seconds()

    public let environment: MonitorEnvironment
    public var closelyWatched: Set<String> = []
    public var descriptors: [Int32] { [] }
    public var location: String { sourceLabel }
    public var notice: String? {
        "replaying \(path) from \(Self.clock(span.lowerBound)); \(ReplayKeys.summary)"
    }

    /// Replays `journal` (at `path`), source `source` (nil: the first it holds), from `start`
    /// (nil: its beginning) at `speed`.
    public init(journal: Journal, path: String, source: String?, from start: Date?, speed: Double) throws(Journal
        .Failure)
    {
        self.journal = journal
        self.path = path
        guard let span = try journal.span() else {
            throw Journal.Failure(description: "\(path) holds nothing to replay")
        }
        self.span = span
        let sources = try journal.sources()
        guard let label = source ?? sources.first else {
            throw Journal.Failure(description: "\(path) holds nothing to replay")
        }
        guard sources.contains(label) else {
            throw Journal.Failure(
                description: "\(path) has no source \(label); it has \(sources.joined(separator: ", "))")
        }
        sourceLabel = label
        changes = try journal.rowChanges(until: span.upperBound, source: label)
        let clock = ReplayClock(now: max(span.lowerBound, min(start ?? span.lowerBound, span.upperBound)), speed: speed)
        self.clock = clock
        environment = MonitorEnvironment(
            now: { clock.now }, hostName: ProcessIdentity.current.hostName, processStartTicks: { _ in .missing })
        applyRows(upTo: clock.now)
    }

    /// The moment shown.
    public var now: Date { clock.now }
    /// Whether the clock stands still.
    public var isPaused: Bool { clock.isPaused }

    public var watchText: String {
        let state =
            clock.now >= span.upperBound ? "at the end" : clock.isPaused ? "paused" : "\(Self.speedText(clock.speed))×"
        return "replay \(Self.clock(clock.now, milliseconds: true)) \(state)"
    }

    public var deadlocks: [WaitForGraph.Deadlock] { DashboardData.waitForGraph(of: rows.values).deadlocks() }

    public func processChanges() -> [MonitorEvent] { [] }

    /// Moves the clock by the wall time since the last tick, times the speed.
    public func tick() -> [MonitorEvent] {
        let wall = MonotonicClock.seconds()
        defer { lastWall = wall }
        guard !clock.isPaused else { return [] }
        return move(to: clock.now.addingTimeInterval((wall - lastWall) * clock.speed))
    }

    public func takeChanges() -> MonitorChanges {
        defer { pending = MonitorChanges() }
        return pending
    }

    /// Pauses or resumes.
    public func togglePause() {
        clock.isPaused.toggle()
        lastWall = MonotonicClock.seconds()
        pending.everything = true
    }

    /// Pauses, and moves to the next moment (a millisecond on at least) an event or a row change
    /// was recorded: the events it brings.
    public func step() -> [MonitorEvent] {
        clock.isPaused = true
        // The next moment, to the millisecond the header shows: what came within it comes with it.
        let after = clock.now.addingTimeInterval(0.001)
        let next = try? journal.events(since: after, until: span.upperBound, source: sourceLabel, limit: 1).first?
            .event.time
        let nextRow = changes.dropFirst(applied).first { $0.time >= after }?.time
        guard let target = [next, nextRow].compactMap({ $0 }).min() else { return [] }
        return move(to: target)
    }

    /// Moves `seconds` later (earlier when negative), within the journal.
    public func seek(by seconds: TimeInterval) -> [MonitorEvent] {
        move(to: clock.now.addingTimeInterval(seconds))
    }

    /// Changes the speed by `factor`, between 0.25× and 1000×.
    public func changeSpeed(by factor: Double) {
        clock.speed = min(1000, max(0.25, clock.speed * factor))
        pending.everything = true
    }

    private func move(to target: Date) -> [MonitorEvent] {
        let target = max(span.lowerBound, min(target, span.upperBound))
        let from = clock.now
        clock.now = target
        pending.everything = true
        if target < from {
            rows = [:]
            applied = 0
            applyRows(upTo: target)
            return []
        }
        applyRows(upTo: target)
        // A seek a long way on brings the first of the events it passes, at most eventsPerMove.
        let entries =
            (try? journal.events(
                since: from.addingTimeInterval(0.000_001), until: target, source: sourceLabel, limit: Self.eventsPerMove
            ))
            ?? []
        return entries.map(\.event)
    }

    private func applyRows(upTo time: Date) {
        while applied < changes.count, changes[applied].time <= time {
            let change = changes[applied]
            rows[change.rowID] = change.snapshot?.row
            applied += 1
        }
    }

    /// `HH:MM:SS`, or `HH:MM:SS.mmm`, in UTC: a step may move less than a second.
    static func clock(_ date: Date, milliseconds: Bool = false) -> String {
        guard milliseconds else { return Timeline.clock(date) }
        let fraction = date.timeIntervalSince1970 - date.timeIntervalSince1970.rounded(.down)
        return Timeline.clock(date) + String(format: ".%03d", min(999, Int(fraction * 1000)))
    }

    /// The most events one tick or seek brings to the event log.
    static let eventsPerMove = 1000

    static func speedText(_ speed: Double) -> String {
        speed == speed.rounded() ? "\(Int(speed))" : String(format: "%.2g", speed)
    }
}

/// The replay's clock: the journal moment shown, the speed, and whether it is paused.
final class ReplayClock: @unchecked Sendable {
    // Read by the environment's `now` and moved by the source, both on the dashboard's one thread.
    var now: Date
    var speed: Double
    var isPaused = false

    init(now: Date, speed: Double) {
        self.now = now
        self.speed = speed
    }
}
