import Foundation
import Synchronization

/// A clock that tests move by hand.
public final class TestClock: Sendable {
    private let current: Mutex<Date>

    /// A clock reading `start`.
    public init(_ start: Date = Date()) { current = Mutex(start) }

    /// The current reading.
    public var now: Date { current.withLock { $0 } }

    /// Moves the clock forward.
    public func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}
