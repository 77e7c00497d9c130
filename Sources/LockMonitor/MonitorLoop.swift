import Foundation
import RecordStore

#if canImport(Glibc)
    import Glibc
#endif

/// The one loop every live view runs over a lock source (the dashboard, `events`, the benchmarks):
/// poll(2) on the source's descriptors and the caller's own, changes applied as they come, and a
/// tick about once a second.
public final class MonitorLoop {
    /// What one turn brought.
    public struct Turn: Sendable {
        /// What the source saw, in time order within each source.
        public var events: [MonitorEvent] = []
        /// Whether the second's tick ran in this turn.
        public var ticked = false
        /// The caller's descriptors that are readable.
        public var readyDescriptors: Set<Int32> = []
    }

    /// The source driven.
    public let source: LockSource
    private var nextTick: Double

    /// A loop over `source`; its first tick comes a second from now.
    public init(source: LockSource) {
        self.source = source
        nextTick = MonotonicClock.seconds() + 1
    }

    /// Waits until a descriptor is readable, the tick is due, or `timeout` seconds pass (when
    /// given); applies the source's changes, runs the tick when due, and says which of
    /// `descriptors` are readable.
    public func turn(alsoWaitingOn descriptors: [Int32] = [], timeout: Double? = nil) -> Turn {
        // Asked every turn: a source that reconnects gets a new descriptor.
        let watched = source.descriptors
        var polled = (descriptors + watched).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let untilTick = max(0, nextTick - MonotonicClock.seconds())
        let wait = Int32((min(untilTick, timeout ?? untilTick) * 1000).rounded(.up))
        var turn = Turn()
        if poll(&polled, nfds_t(polled.count), wait) > 0 {
            turn.readyDescriptors = Set(polled.prefix(descriptors.count).filter { $0.revents != 0 }.map(\.fd))
            if polled.dropFirst(descriptors.count).contains(where: { $0.revents != 0 }) {
                turn.events += source.processChanges()
            }
        }
        if MonotonicClock.seconds() >= nextTick {
            turn.events += source.tick()
            nextTick = MonotonicClock.seconds() + 1
            turn.ticked = true
        }
        return turn
    }
}
