import Foundation
import LockMonitor
import RecordStore

/// Where and for how long to record when `--record` is not given: the operator's default, in
/// `recording.json` in the state directory (`{"record": "/var/lib/locktop/journal.db", "retain": "7d"}`).
public struct RecordingSettings: Equatable, Sendable {
    /// The journal's path.
    public var path: String
    /// How long events are kept.
    public var retention: TimeInterval

    /// Settings: record into `path`, keeping `retention` seconds.
    public init(path: String, retention: TimeInterval) {
        self.path = path
        self.retention = retention
    }

    /// The settings file in the state directory beside `auditLog`.
    public static func location(besides auditLog: String) -> String {
        (auditLog as NSString).deletingLastPathComponent + "/recording.json"
    }

    /// The operator's default beside `auditLog`, nil when none is set. A settings file that is not
    /// the operator's alone, or does not parse, is an error: recording nowhere by surprise is worse.
    public static func operatorDefault(besides auditLog: String) throws(Journal.Failure) -> RecordingSettings? {
        let path = location(besides: auditLog)
        let bytes: [UInt8]?
        do {
            bytes = try StateDirectory.read(path, limit: 64 * 1024)
        } catch {
            throw Journal.Failure(description: "\(error)")
        }
        guard let bytes else { return nil }
        guard case .object(let members)? = JSONValue.parse(bytes), case .string(let record)? = members["record"],
            !record.isEmpty
        else { throw Journal.Failure(description: "\(path) names no journal: it wants {\"record\": \"PATH\"}") }
        var retention = Journal.defaultRetention
        if let retain = members["retain"] {
            guard case .string(let text) = retain, let seconds = DurationText.parse(text), seconds > 0 else {
                throw Journal.Failure(description: "\(path): retain takes a duration such as 7d or 12h")
            }
            retention = seconds
        }
        return RecordingSettings(path: record, retention: retention)
    }
}
