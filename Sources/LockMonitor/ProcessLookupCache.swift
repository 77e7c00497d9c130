import Foundation
import Synchronization

/// Remembers process lookups for a short while, so classifying many locks each second reads
/// `/proc` once per pid rather than once per lock.
final class ProcessLookupCache: Sendable {
    private let environment: MonitorEnvironment
    private let lifetime: TimeInterval
    private let entries = Mutex<[Int32: (lookup: MonitorEnvironment.ProcessLookup, time: Date)]>([:])

    init(environment: MonitorEnvironment, lifetime: TimeInterval) {
        self.environment = environment
        self.lifetime = lifetime
    }

    func lookup(_ pid: Int32) -> MonitorEnvironment.ProcessLookup {
        let now = environment.now()
        if let cached = entries.withLock({ $0[pid] }), now.timeIntervalSince(cached.time) < lifetime {
            return cached.lookup
        }
        let lookup = environment.processStartTicks(pid)
        entries.withLock { $0[pid] = (lookup, now) }
        return lookup
    }
}
