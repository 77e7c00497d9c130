/// Makes untrusted text safe to show on a terminal. Holders, keys, file names, record summaries and
/// error messages come from files anyone with write access to a directory can write, so every
/// human-readable output goes through here before it reaches a terminal.
///
/// C0 controls and DEL become `\x1B`, `\x7F`; C1 controls become `\u009B`; bidirectional controls
/// (overrides, isolates and marks: `\u202E`, `\u200F`, `\u061C`), line and paragraph separators
/// (`\u2028`) and invisible characters (zero-width spaces and joiners, the word joiner, the byte
/// order mark: `\u200B`, `\uFEFF`) become escapes too; bytes that are not UTF-8 become `\xFF`.
/// Everything else is kept as it is.
public enum TerminalText {
    /// `text` with every control character escaped.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var output = ""
        output.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars { append(scalar, to: &output) }
        return output
    }

    /// `bytes` as text, with invalid UTF-8 escaped byte by byte and every control character escaped.
    /// With `escapingBackslash`, `\` becomes `\x5C` too, so the result cannot be mistaken for an escape.
    public static func escaped<Bytes: RandomAccessCollection<UInt8>>(bytes: Bytes, escapingBackslash: Bool = false)
        -> String
    where Bytes.Index == Int {
        var output = ""
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte < 0x80 {
                if escapingBackslash && byte == 0x5C {
                    output += "\\x5C"
                } else {
                    append(Unicode.Scalar(byte), to: &output)
                }
                index += 1
                continue
            }
            if let length = sequenceLength(bytes, at: index),
                let text = String(validating: bytes[index..<(index + length)], as: UTF8.self),
                let scalar = text.unicodeScalars.first
            {
                append(scalar, to: &output)
                index += length
                continue
            }
            output += hex("\\x", UInt32(byte), digits: 2)
            index += 1
        }
        return output
    }

    /// Whether `bytes` would come out of ``escaped(bytes:escapingBackslash:)`` unchanged.
    public static func isPlain<Bytes: RandomAccessCollection<UInt8>>(bytes: Bytes, escapingBackslash: Bool = false)
        -> Bool
    where Bytes.Index == Int {
        guard let text = String(validating: bytes, as: UTF8.self) else { return false }
        if escapingBackslash && bytes.contains(0x5C) { return false }
        return !text.unicodeScalars.contains(where: needsEscape)
    }

    /// Whether `scalar` is a control character a terminal may act on, or one that reorders,
    /// breaks or hides text so that what is shown is not what is there.
    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return value < 0x20 || (0x7F...0x9F).contains(value) || (0x200B...0x200F).contains(value)
            || (0x2028...0x202E).contains(value) || (0x2060...0x2069).contains(value) || value == 0x061C
            || value == 0xFEFF
    }

    private static func append(_ scalar: Unicode.Scalar, to output: inout String) {
        let value = scalar.value
        if value < 0x20 || value == 0x7F {
            output += hex("\\x", value, digits: 2)
        } else if needsEscape(scalar) {
            output += hex("\\u", value, digits: 4)
        } else {
            output.unicodeScalars.append(scalar)
        }
    }

    private static func hex(_ prefix: String, _ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return prefix + String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    private static func sequenceLength<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, at index: Int) -> Int?
    where Bytes.Index == Int {
        let lead = bytes[index]
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0
        guard length > 0, index + length <= bytes.endIndex else { return nil }
        return length
    }
}
