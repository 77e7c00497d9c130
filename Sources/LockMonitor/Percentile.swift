/// The nearest-rank percentile, the one every figure of locktop uses (hold p95 in the dashboard,
/// `report`, `stats`): the smallest value with at least `fraction` of the values at or below it.
public enum Percentile {
    /// The `fraction` (0.5, 0.95) percentile of `sorted` (ascending); nil when it is empty.
    public static func of(_ sorted: [Double], _ fraction: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((Double(sorted.count) * fraction).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }
}
