import Foundation
import RecordStore

/// Durations as operators type and read them: `90s`, `15m`, `2h`, `1h30m`, `3m05s`.
public enum DurationText {
    /// Parses `90s`, `15m`, `2h`, `1d`, combinations like `1h30m`, or a bare number of seconds.
    public static func parse(_ text: String) -> TimeInterval? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let seconds = Double(trimmed), seconds >= 0, seconds.isFinite { return seconds }
        var total = 0.0
        var number = ""
        var sawUnit = false
        for character in trimmed {
            if character.isNumber || character == "." {
                number.append(character)
                continue
            }
            let unit: Double
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86400
            default: return nil
            }
            guard let value = Double(number) else { return nil }
            total += value * unit
            number = ""
            sawUnit = true
        }
        return sawUnit && number.isEmpty ? total : nil
    }

    /// Formats a duration compactly: `42s`, `3m05s`, `2h04m`, `3d02h`.
    public static func format(_ seconds: TimeInterval) -> String {
        let whole = Int(max(0, seconds).rounded(.down))
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return "\(whole / 60)m" + String(format: "%02ds", whole % 60) }
        if whole < 86400 { return "\(whole / 3600)h" + String(format: "%02dm", whole % 3600 / 60) }
        return "\(whole / 86400)d" + String(format: "%02dh", whole % 86400 / 3600)
    }

    /// The time of day of `date` in UTC, `12:03:14`: how a reason names a moment.
    public static func timeOfDay(_ date: Date) -> String {
        String(PrefectTimestamp.format(date).dropFirst(11).prefix(8))
    }
}
