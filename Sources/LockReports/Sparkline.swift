/// A row of block characters, one per value, as tall as the value against the largest: how many
/// waited over time, beside a lock in `report` and in the dashboard's detail pane.
public enum Sparkline {
    private static let bars: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// `values` as bars; zero is a space (nobody waited), the largest is a full block.
    public static func draw(_ values: [Int]) -> String {
        let largest = values.max() ?? 0
        guard largest > 0 else { return String(repeating: " ", count: values.count) }
        return String(
            values.map { value in
                value <= 0
                    ? " " : bars[min(bars.count - 1, max(0, (value * bars.count + largest - 1) / largest - 1))]
            })
    }
}
