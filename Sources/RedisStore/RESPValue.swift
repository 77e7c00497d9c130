import Foundation

/// A RESP2 reply, and the encoding of a command.
public enum RESPValue: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(Int)
    /// A bulk string; nil is RESP's null.
    case bulk([UInt8]?)
    /// An array; nil is RESP's null array.
    case array([RESPValue]?)

    /// The bytes of a bulk or simple string.
    public var bytes: [UInt8]? {
        switch self {
        case .bulk(let bytes): return bytes
        case .simple(let text): return Array(text.utf8)
        default: return nil
        }
    }

    /// The text of a bulk or simple string, decoded as UTF-8 (invalid bytes replaced).
    public var text: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    /// The integer, or a bulk string holding one.
    public var integer: Int? {
        switch self {
        case .integer(let value): return value
        case .bulk(let bytes?): return Int(String(decoding: bytes, as: UTF8.self))
        default: return nil
        }
    }

    /// The elements of an array.
    public var elements: [RESPValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// A command as RESP: an array of bulk strings.
    public static func encode(_ arguments: [[UInt8]]) -> [UInt8] {
        var output = Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments {
            output += Array("$\(argument.count)\r\n".utf8)
            output += argument
            output += [0x0D, 0x0A]
        }
        return output
    }

    /// The longest line or bulk string accepted: a lock value is small, and a reply this large is an attack or a mistake.
    public static let maximumLength = 64 * 1024 * 1024

    /// Parses one reply from `buffer` at `index`, advancing it; nil when the reply is not complete
    /// yet. A bulk string longer than `maximumBulkLength` is refused as soon as its length is read.
    static func parse(_ buffer: [UInt8], at index: inout Int, maximumBulkLength: Int = maximumLength)
        throws(RedisError) -> RESPValue?
    {
        var cursor = index
        guard let value = try parseValue(buffer, &cursor, depth: 0, maximumBulkLength: maximumBulkLength) else {
            return nil
        }
        index = cursor
        return value
    }

    private static func parseValue(_ buffer: [UInt8], _ cursor: inout Int, depth: Int, maximumBulkLength: Int)
        throws(RedisError) -> RESPValue?
    {
        guard depth < 8 else { throw .protocolViolation("arrays nested too deep") }
        guard cursor < buffer.count else { return nil }
        let type = buffer[cursor]
        var lineStart = cursor + 1
        guard let line = try self.line(buffer, &lineStart) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            cursor = lineStart
            return .simple(line)
        case UInt8(ascii: "-"):
            cursor = lineStart
            return .error(line)
        case UInt8(ascii: ":"):
            guard let value = Int(line) else { throw .protocolViolation("integer \"\(line.prefix(40))\"") }
            cursor = lineStart
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = Int(line), length >= -1, length <= maximumLength else {
                throw .protocolViolation("bulk length \"\(line.prefix(40))\"")
            }
            if length > maximumBulkLength {
                throw .protocolViolation("a bulk string of \(length) bytes, over the \(maximumBulkLength)-byte limit")
            }
            if length == -1 {
                cursor = lineStart
                return .bulk(nil)
            }
            guard buffer.count >= lineStart + length + 2 else { return nil }
            guard buffer[lineStart + length] == 0x0D, buffer[lineStart + length + 1] == 0x0A else {
                throw .protocolViolation("bulk string without CRLF")
            }
            cursor = lineStart + length + 2
            return .bulk(Array(buffer[lineStart..<(lineStart + length)]))
        case UInt8(ascii: "*"):
            guard let count = Int(line), count >= -1, count <= 1_000_000 else {
                throw .protocolViolation("array length \"\(line.prefix(40))\"")
            }
            if count == -1 {
                cursor = lineStart
                return .array(nil)
            }
            var elements: [RESPValue] = []
            elements.reserveCapacity(count)
            var next = lineStart
            for _ in 0..<count {
                guard
                    let element = try parseValue(
                        buffer, &next, depth: depth + 1, maximumBulkLength: maximumBulkLength)
                else { return nil }
                elements.append(element)
            }
            cursor = next
            return .array(elements)
        default:
            throw .protocolViolation("type byte \(type)")
        }
    }

    /// The text up to the next CRLF from `cursor`, which moves past it; nil when there is no CRLF yet.
    private static func line(_ buffer: [UInt8], _ cursor: inout Int) throws(RedisError) -> String? {
        var end = cursor
        while end + 1 < buffer.count {
            if buffer[end] == 0x0D && buffer[end + 1] == 0x0A {
                let text = String(decoding: buffer[cursor..<end], as: UTF8.self)
                cursor = end + 2
                return text
            }
            end += 1
            if end - cursor > 4096 { throw .protocolViolation("a line longer than 4096 bytes") }
        }
        return nil
    }
}
