import Foundation

/// One reading of a Prefect helper's heartbeat key in Redis (`locktop:alive:<host>:<pid>:<start>`),
/// which its process renews while it holds a lock and Redis expires once it stops.
public struct RedisHeartbeat: Equatable, Sendable {
    /// What Redis held.
    public enum Reading: Equatable, Sendable {
        /// The key is there; it expires at this time unless renewed (nil: it has no TTL).
        case beating(expiresAt: Date?)
        /// The key is gone; it expired at about this time, when a reading before saw it beating.
        case gone(expiredAt: Date?)
    }

    public var reading: Reading
    /// When it was read, by this host's clock.
    public var observedAt: Date

    public init(reading: Reading, observedAt: Date) {
        self.reading = reading
        self.observedAt = observedAt
    }

    /// The reading of a key with `milliseconds` left (nil: gone; `Int.max`: no TTL) at `now`,
    /// given the reading before, which dates an expiry seen happen.
    public init(timeToLive milliseconds: Int?, at now: Date, previous: RedisHeartbeat?) {
        observedAt = now
        switch (milliseconds, previous?.reading) {
        case (let milliseconds?, _):
            reading = .beating(
                expiresAt: milliseconds == Int.max ? nil : now.addingTimeInterval(Double(milliseconds) / 1000))
        case (nil, .beating(let expiresAt?)?):
            reading = .gone(expiredAt: min(expiresAt, now))
        case (nil, .gone(let expiredAt)?):
            reading = .gone(expiredAt: expiredAt)
        case (nil, _):
            reading = .gone(expiredAt: nil)
        }
    }

    /// Whether it says the holder beats: what a verdict turns on.
    public var isBeating: Bool {
        if case .beating = reading { return true }
        return false
    }
}
