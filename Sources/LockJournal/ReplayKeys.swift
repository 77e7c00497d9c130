import Dashboard
import LockMonitor

/// The keys a replay adds to the dashboard's, handled before the dashboard's own: pause, step,
/// seek and speed. (Space is the dashboard's freeze; in a replay it pauses the clock instead.)
public enum ReplayKeys {
    /// What a replay key does.
    enum Action {
        case pause, step
        /// Moves this many seconds (earlier when negative).
        case seek(Double)
        /// Multiplies the speed by this.
        case speed(Double)
    }

    /// Each key, what it does, and how the notice names it.
    static let table: [(key: Key, action: Action, text: String, help: String)] = [
        (.character(" "), .pause, "Space", "pause"), (.character("."), .step, ".", "step"),
        (.character("]"), .seek(60), "]", "+1 min"), (.character("["), .seek(-60), "[", "-1 min"),
        (.character("}"), .seek(600), "}", "+10 min"), (.character("{"), .seek(-600), "{", "-10 min"),
        (.character("+"), .speed(2), "+", "faster"), (.character("-"), .speed(0.5), "-", "slower"),
    ]

    /// The keys in a line: `Space pause, . step, ] +1 min…`.
    public static var summary: String { table.map { "\($0.text) \($0.help)" }.joined(separator: ", ") }

    /// Handles `key` on `source`: the events it brought, or nil when the key is not a replay key.
    public static func handle(_ key: Key, on source: ReplayLockSource) -> [MonitorEvent]? {
        guard let entry = table.first(where: { $0.key == key }) else { return nil }
        switch entry.action {
        case .pause:
            source.togglePause()
            return []
        case .step: return source.step()
        case .seek(let seconds): return source.seek(by: seconds)
        case .speed(let factor):
            source.changeSpeed(by: factor)
            return []
        }
    }
}
