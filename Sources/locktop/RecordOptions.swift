import ArgumentParser
import Dashboard
import Foundation
import LockJournal
import LockMonitor
import RecordStore

/// `--record` and `--retain`, shared by the dashboard, `events` and `serve`.
struct RecordOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            """
            Keep a journal of every lock event and row change in this SQLite file, for `locktop report` and \
            `locktop replay`. Default: the "record" of recording.json in the state directory, when it is set.
            """, valueName: "file"))
    var record: String?

    @Option(help: ArgumentHelp("How long the journal keeps events: 7d, 12h. Default: 7d.", valueName: "duration"))
    var retain: String?

    @Flag(help: "Record nothing, whatever recording.json says.")
    var noRecord = false

    func validate() throws {
        if let retain, (DurationText.parse(retain) ?? 0) <= 0 {
            throw ValidationError("--retain takes a duration such as 7d or 12h, not \"\(retain)\"")
        }
        if noRecord, record != nil { throw ValidationError("--record and --no-record contradict each other") }
    }

    /// Where to record and for how long: `--record`, else the operator's default; nil for nowhere.
    func settings() throws -> RecordingSettings? {
        if noRecord { return nil }
        let retention = retain.flatMap(DurationText.parse)
        if let record {
            return RecordingSettings(path: record, retention: retention ?? Journal.defaultRetention)
        }
        guard
            var settings = try Console.failing({
                try RecordingSettings.operatorDefault(besides: AuditLog.defaultLocation().path)
            })
        else { return nil }
        if let retention { settings.retention = retention }
        return settings
    }

    /// A recorder of `source`'s turns, when recording is asked for. A failure later is said on
    /// standard error when `warnsOnFailure`, and the watch goes on.
    func makeRecorder(source: String, warnsOnFailure: Bool = true) throws -> JournalRecorder? {
        guard let settings = try settings() else { return nil }
        return try makeRecorder(settings, source: source, warnsOnFailure: warnsOnFailure)
    }

    /// A recorder of `source`'s turns into the journal `settings` name.
    func makeRecorder(_ settings: RecordingSettings, source: String, warnsOnFailure: Bool = true) throws
        -> JournalRecorder
    {
        let journal = try Console.failing { try Journal(recordingAt: settings.path) }
        let recorder = JournalRecorder(journal: journal, source: source, retention: settings.retention)
        if warnsOnFailure { recorder.onFailure { Console.warn("warning: \($0)") } }
        return recorder
    }
}
