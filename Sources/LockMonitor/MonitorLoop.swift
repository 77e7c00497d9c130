import Foundation
import RecordStore
#if canImport(Glibc)
import Glibc
#endif

/// The one loop every live view runs over a monitor (the dashboard, `events`, the benchmarks):
/// poll(2) on the monitor's descriptors and the caller's own, changes applied as they come, and a
/// tick about once a second.
public final class MonitorLoop {
    /// What one turn brought.
    public struct Turn: Sendable {
        /// What the monitor saw, in time order within each source.
        public var events: [MonitorEvent] = []
        /// Whether the second's tick ran in this turn.
        public var ticked = false
        /// The caller's descriptors that are readable.
        public var readyDescriptors: Set<Int32> = []
    }

    /// The monitor driven.
    public let monitor: LockMonitor
    private var nextTick: Double

    /// A loop over `monitor`; its first tick comes a second from now.
    public init(monitor: LockMonitor) {
        self.monitor = monitor
        nextTick = MonotonicClock.seconds() + 1
    }

    /// Waits until a descriptor is readable, the tick is due, or `timeout` seconds pass (when
    /// given); applies the monitor's changes, runs the tick when due, and says which of
    /// `descriptors` are readable.
    public func turn(alsoWaitingOn descriptors: [Int32] = [], timeout: Double? = nil) -> Turn {
        let watched = [monitor.fileDescriptor, monitor.identityDescriptor].compactMap { $0 }
        var polled = (descriptors + watched).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let untilTick = max(0, nextTick - MonotonicClock.seconds())
        let wait = Int32((min(untilTick, timeout ?? untilTick) * 1000).rounded(.up))
        var turn = Turn()
        if poll(&polled, nfds_t(polled.count), wait) > 0 {
            turn.readyDescriptors = Set(polled.prefix(descriptors.count).filter { $0.revents != 0 }.map(\.fd))
            if polled.dropFirst(descriptors.count).contains(where: { $0.revents != 0 }) { turn.events += monitor.processChanges() }
        }
        if MonotonicClock.seconds() >= nextTick {
            turn.events += monitor.tick()
            nextTick = MonotonicClock.seconds() + 1
            turn.ticked = true
        }
        return turn
    }
}
