#if canImport(Glibc)
    import Glibc
#endif

/// Seconds on the monotonic clock, for deadlines that wall-clock changes must not move.
public enum MonotonicClock {
    /// The current monotonic time in seconds.
    public static func seconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
