import Foundation

/// The clock of a shared filesystem, which judges every heartbeat's and host report's age there:
/// hosts' own clocks differ, the storage's is the one they all write by. Read by creating a probe
/// file and taking its modification time, then carried forward by this host's monotonic clock,
/// so a jump of this host's wall clock changes no age. Probed again every ``probeInterval``.
public final class StorageClock: @unchecked Sendable {
    /// How often the storage is probed again (its clock may be stepped too).
    public static let probeInterval: TimeInterval = 15

    private let directories: [DirectoryHandle]
    private let lock = NSLock()
    private var reading: (storage: Date, monotonic: Double)?
    /// Whether the last reading came from the storage; false when no probe file could be made,
    /// and this host's clock stands in.
    public private(set) var isShared = false

    /// A clock probed in the first of `directories` where this user may create a file.
    public init(probingIn directories: [DirectoryHandle]) {
        self.directories = directories
    }

    /// The storage's time now; this host's `fallback` when no probe file can be made there.
    public func now(fallback: Date) -> Date {
        lock.lock()
        defer { lock.unlock() }
        let monotonic = MonotonicClock.seconds()
        if let reading, monotonic - reading.monotonic < Self.probeInterval {
            return reading.storage.addingTimeInterval(monotonic - reading.monotonic)
        }
        for directory in directories {
            if let probed = Self.probe(directory) {
                // The probe's time is the middle of the round trip.
                let middle = (monotonic + MonotonicClock.seconds()) / 2
                reading = (probed, middle)
                isShared = true
                return probed.addingTimeInterval(MonotonicClock.seconds() - middle)
            }
        }
        isShared = false
        reading = nil
        return fallback
    }

    /// The modification time a new file gets in `directory`, nil when none can be made there.
    static func probe(_ directory: DirectoryHandle) -> Date? {
        let name = LockFiles.temporaryName(kind: "probe")
        guard let status = (try? directory.createExclusive(name, bytes: [])) ?? nil else { return nil }
        _ = try? directory.removeName(name)
        return Date(timeIntervalSince1970: Double(status.modifiedNanoseconds) / 1e9)
    }
}
