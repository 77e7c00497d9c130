import Foundation
import RecordStore

/// What a record's JSON says, in the two forms Prefect writes.
public struct RecordSummary: Equatable, Sendable {
    /// `reference` for Prefect 3.0's result references, `result` for the 3.x metadata form.
    public var form: String
    /// Where the result is stored.
    public var storageKey: String?
    /// The serializer (`pickle`, `json`, ...).
    public var serializer: String?
    /// When the result expires, when stated.
    public var expiration: String?
    /// The Prefect version that wrote it, when stated.
    public var prefectVersion: String?

    /// Summarises record bytes, or returns nil when they are not one of Prefect's forms.
    /// Handles `{"type":"reference","serializer_type":...,"storage_key":...}` and
    /// `{"metadata":{"storage_key","expiration","serializer","prefect_version"},"result":...}`.
    public init?(parsing bytes: [UInt8]) {
        guard let value = JSONValue.parse(bytes), case .object = value else { return nil }
        if let metadata = value["metadata"], case .object = metadata {
            form = "result"
            storageKey = metadata["storage_key"]?.stringValue
            switch metadata["serializer"] {
            case .string(let name)?: serializer = name
            case .object(let members)?: serializer = members["type"]?.stringValue
            default: serializer = nil
            }
            expiration = metadata["expiration"]?.stringValue
            prefectVersion = metadata["prefect_version"]?.stringValue
        } else if let type = value["type"]?.stringValue {
            form = type
            storageKey = value["storage_key"]?.stringValue
            serializer = value["serializer_type"]?.stringValue ?? value["serializer"]?["type"]?.stringValue
            expiration = value["expiration"]?.stringValue
            prefectVersion = value["prefect_version"]?.stringValue
        } else {
            return nil
        }
    }

    /// A one-line description.
    public var text: String {
        var parts = [form]
        if let serializer { parts.append(serializer) }
        if let storageKey { parts.append("storage_key=\(storageKey)") }
        if let expiration { parts.append("expires \(expiration)") }
        if let prefectVersion { parts.append("prefect \(prefectVersion)") }
        return parts.joined(separator: " ")
    }

    /// The summary as `list --json --summaries` writes it.
    public var json: JSONValue {
        var members: [String: JSONValue] = ["form": .string(form)]
        if let storageKey { members["storage_key"] = .string(storageKey) }
        if let serializer { members["serializer"] = .string(serializer) }
        if let expiration { members["expiration"] = .string(expiration) }
        if let prefectVersion { members["prefect_version"] = .string(prefectVersion) }
        return .object(members)
    }

    /// Reads and summarises the record file `key` in `directory`, reading at most `limit` bytes.
    public static func load(_ key: String, in directory: DirectoryHandle, limit: Int = 1 << 20) -> RecordSummary? {
        guard let bytes = (try? directory.readFile(key, limit: limit)) ?? nil else { return nil }
        return RecordSummary(parsing: bytes)
    }
}
