import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads and writes timestamps as Python's `str(datetime)` spells them,
/// for example `2026-11-25 19:48:46.512569+00:00`.
public enum PrefectTimestamp {
    /// Formats `date` in UTC with microseconds, as `str(datetime.now(timezone.utc))` does.
    /// With `separator: "T"` it is ISO 8601, as `datetime.isoformat()` writes it.
    public static func format(_ date: Date, separator: Character = " ") -> String {
        var output = [UInt8]()
        output.reserveCapacity(32)
        append(date, to: &output, separator: separator)
        return String(decoding: output, as: UTF8.self)
    }

    /// Appends the formatted timestamp to a byte buffer.
    public static func append(_ date: Date, to output: inout [UInt8], separator: Character = " ") {
        let totalMicroseconds = (date.timeIntervalSince1970 * 1_000_000).rounded(.down)
        var seconds = time_t(Int64((totalMicroseconds / 1_000_000).rounded(.down)))
        let micros = Int(Int64(totalMicroseconds) - Int64(seconds) * 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var remaining = value
            while divisor > 0 {
                output.append(UInt8(48 + (remaining / divisor) % 10))
                remaining %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4)
        output.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        output.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        output.append(separator.asciiValue ?? UInt8(ascii: " "))
        digits(Int(parts.tm_hour), 2)
        output.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        output.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        output.append(UInt8(ascii: "."))
        digits(micros, 6)
        output.append(contentsOf: Array("+00:00".utf8))
    }

    /// Parses `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][Z|±HH:MM|±HHMM|±HH]`.
    /// A timestamp without an offset is read as UTC, as pendulum does. Returns nil for anything else.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ width: Int) -> Int? {
            guard index + width <= bytes.count else { return nil }
            var value = 0
            for _ in 0..<width {
                let byte = bytes[index]
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
                index += 1
            }
            return value
        }
        func consume(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }
        guard let year = number(4), consume(UInt8(ascii: "-")),
            let month = number(2), consume(UInt8(ascii: "-")),
            let day = number(2)
        else { return nil }
        guard consume(UInt8(ascii: " ")) || consume(UInt8(ascii: "T")) || consume(UInt8(ascii: "t")) else { return nil }
        guard let hour = number(2), consume(UInt8(ascii: ":")), let minute = number(2) else { return nil }
        var second = 0
        var fraction = 0.0
        if consume(UInt8(ascii: ":")) {
            guard let parsedSecond = number(2) else { return nil }
            second = parsedSecond
            if consume(UInt8(ascii: ".")) || consume(UInt8(ascii: ",")) {
                var scale = 0.1
                var count = 0
                while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                    fraction += Double(bytes[index] - 0x30) * scale
                    scale /= 10
                    index += 1
                    count += 1
                }
                guard count > 0, count <= 9 else { return nil }
            }
        }
        var offsetSeconds = 0
        if consume(UInt8(ascii: "Z")) || consume(UInt8(ascii: "z")) {
            offsetSeconds = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let offsetHours = number(2) else { return nil }
            var offsetMinutes = 0
            if consume(UInt8(ascii: ":")) {
                guard let parsed = number(2) else { return nil }
                offsetMinutes = parsed
            } else if index < bytes.count {
                guard let parsed = number(2) else { return nil }
                offsetMinutes = parsed
            }
            guard offsetHours < 24, offsetMinutes < 60 else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard index == bytes.count else { return nil }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = timegm(&parts)
        guard parts.tm_mday == Int32(day) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(epoch - offsetSeconds) + fraction)
    }
}
