import Dashboard
import LockMonitor

/// The keys a replay adds to the dashboard's, handled before the dashboard's own: pause, step,
/// seek and speed. (Space is the dashboard's freeze; in a replay it pauses the clock instead.)
public enum ReplayKeys {
    /// Each key and what it does, as the notice names them.
    static let table: [(key: Key, text: String, help: String)] = [
        (.character(" "), "Space", "pause"), (.character("."), ".", "step"),
        (.character("]"), "]", "+1 min"), (.character("["), "[", "-1 min"),
        (.character("}"), "}", "+10 min"), (.character("{"), "{", "-10 min"),
        (.character("+"), "+", "faster"), (.character("-"), "-", "slower"),
    ]

    /// The keys in a line: `Space pause, . step, ] +1 min…`.
    public static var summary: String { table.map { "\($0.text) \($0.help)" }.joined(separator: ", ") }

    /// Handles `key` on `source`: the events it brought, or nil when the key is not a replay key.
    public static func handle(_ key: Key, on source: ReplayLockSource) -> [MonitorEvent]? {
        guard let entry = table.first(where: { $0.key == key }) else { return nil }
        switch entry.text {
        case "Space":
            source.togglePause()
            return []
        case ".": return source.step()
        case "]": return source.seek(by: 60)
        case "[": return source.seek(by: -60)
        case "}": return source.seek(by: 600)
        case "{": return source.seek(by: -600)
        case "+":
            source.changeSpeed(by: 2)
            return []
        default:
            source.changeSpeed(by: 0.5)
            return []
        }
    }
}
