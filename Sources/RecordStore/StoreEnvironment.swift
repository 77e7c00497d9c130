import Foundation

/// The outside facts the store depends on, injectable so tests control them.
public struct StoreEnvironment: Sendable {
    /// The wall clock, used to judge expirations and the grace period.
    public var now: @Sendable () -> Date
    /// The process writing locks, recorded in the lock files it creates.
    public var process: ProcessIdentity

    /// Creates an environment.
    public init(now: @escaping @Sendable () -> Date, process: ProcessIdentity) {
        self.now = now
        self.process = process
    }

    /// The real clock and the running process.
    public static let live = StoreEnvironment(now: { Date() }, process: .current)
}
