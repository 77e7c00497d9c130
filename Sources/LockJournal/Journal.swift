import Foundation
import LockMonitor
import RecordStore

/// The journal `--record` keeps: an SQLite database of every lock event and of each lock row's
/// state whenever it changes, per source. Several locktops may write one journal at once (SQLite's
/// write-ahead log serializes them); `report`, `stats` and `replay` read it.
public final class Journal {
    /// What the journal could not do, in words.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// One recorded event, with the source it came from.
    public struct Entry: Sendable {
        public var source: String
        public var event: MonitorEvent

        public init(source: String, event: MonitorEvent) {
            self.source = source
            self.event = event
        }
    }

    /// One recorded row state: the row as it was from `time` on, or nil from when it went.
    public struct RowChange: Sendable {
        public var time: Date
        public var source: String
        public var rowID: String
        public var snapshot: RowSnapshot?

        public init(time: Date, source: String, rowID: String, snapshot: RowSnapshot?) {
            self.time = time
            self.source = source
            self.rowID = rowID
            self.snapshot = snapshot
        }
    }

    /// The layout's version, in the `meta` table.
    public static let layoutVersion = 1
    /// How long events are kept unless `--retain` says otherwise.
    public static let defaultRetention: TimeInterval = 7 * 86400

    private let connection: SQLiteConnection
    private var insertEvent: SQLiteStatement?
    private var insertRow: SQLiteStatement?
    /// The `processes` rows this writer used, by what they hold, and whether each was used since the last prune.
    private var processRefs: [RowSnapshot.Process: (ref: Int64, used: Bool)] = [:]

    /// Opens the journal at `path` for writing, creating it (0600) when missing. A journal that
    /// another uid owns, that others may write, or that is a symbolic link is refused: what it
    /// holds names holders and breaks.
    public init(recordingAt path: String) throws(Failure) {
        do {
            try StateDirectory.check(path)
        } catch {
            throw Failure(description: "will not record into \(path): \(error)")
        }
        let existed = FileManager.default.fileExists(atPath: path)
        let previousMask = umask(0o077)
        defer { umask(previousMask) }
        connection = try SQLiteConnection(path: path, readOnly: false)
        if !existed { chmod(path, StateDirectory.fileMode) }
        try connection.execute(
            """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT);
            INSERT OR IGNORE INTO meta VALUES ('layout', '\(Self.layoutVersion)');
            CREATE TABLE IF NOT EXISTS events(
                id INTEGER PRIMARY KEY, time REAL NOT NULL, source TEXT NOT NULL, type TEXT NOT NULL,
                key TEXT NOT NULL, records TEXT, holder TEXT, previous_holder TEXT, detail TEXT, reason TEXT,
                broken_by TEXT, pid INTEGER, expires_at REAL, held_seconds REAL, waited_seconds REAL,
                took_lock INTEGER, cycle TEXT, certain INTEGER, host TEXT);
            CREATE INDEX IF NOT EXISTS events_by_time ON events(time);
            CREATE TABLE IF NOT EXISTS rows(
                id INTEGER PRIMARY KEY, time REAL NOT NULL, source TEXT NOT NULL, row TEXT NOT NULL, snapshot TEXT);
            CREATE INDEX IF NOT EXISTS rows_by_time ON rows(time);
            CREATE TABLE IF NOT EXISTS processes(
                id INTEGER PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, start_ticks INTEGER,
                command TEXT NOT NULL, uid INTEGER, seen REAL NOT NULL,
                UNIQUE(host, pid, start_ticks, command));
            """)
        try checkLayout()
    }

    /// Opens the journal at `path` to read it; it may be anyone's (a colleague's, last night's),
    /// and is read as untrusted input.
    public init(readingAt path: String) throws(Failure) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw Failure(description: "no journal at \(path)")
        }
        connection = try SQLiteConnection(path: path, readOnly: true)
        try checkLayout()
    }

    private func checkLayout() throws(Failure) {
        let notAJournal = Failure(description: "\(connection.path) is not a locktop journal")
        guard let statement = try? connection.prepare("SELECT value FROM meta WHERE name = 'layout'") else {
            throw notAJournal
        }
        try statement.bind([])
        guard (try? statement.step()) == true, let value = statement.text(0) else { throw notAJournal }
        guard value == "\(Self.layoutVersion)" else {
            throw .init(
                description: "\(connection.path) has journal layout \(value.prefix(20)), not \(Self.layoutVersion)")
        }
    }

    /// Appends `events` from `source` and the row `changes`, in one transaction.
    public func append(_ events: [MonitorEvent], rows changes: [RowChange], source: String) throws(Failure) {
        guard !events.isEmpty || !changes.isEmpty else { return }
        try connection.inTransaction { () throws(Failure) in
            let insertEvent = try eventInsertion()
            for event in events {
                try insertEvent.run(Self.values(of: event, source: source))
            }
            let insertRow = try rowInsertion()
            for change in changes {
                let stored = try change.snapshot.map { snapshot throws(Failure) in
                    try snapshot.stored { process throws(Failure) in
                        try self.ref(of: process, at: change.time)
                    }
                }
                try insertRow.run([
                    .real(change.time.timeIntervalSince1970), .text(source), .text(change.rowID),
                    stored.map { .text($0.encoded) } ?? .null,
                ])
            }
        }
    }

    private func eventInsertion() throws(Failure) -> SQLiteStatement {
        if let insertEvent { return insertEvent }
        let statement = try connection.prepare(
            """
            INSERT INTO events(time, source, type, key, records, holder, previous_holder, detail, reason,
                broken_by, pid, expires_at, held_seconds, waited_seconds, took_lock, cycle, certain, host)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        insertEvent = statement
        return statement
    }

    private func rowInsertion() throws(Failure) -> SQLiteStatement {
        if let insertRow { return insertRow }
        let statement = try connection.prepare("INSERT INTO rows(time, source, row, snapshot) VALUES (?, ?, ?, ?)")
        insertRow = statement
        return statement
    }

    /// The `processes` row of `process`, added when new.
    private func ref(of process: RowSnapshot.Process, at time: Date) throws(Failure) -> Int64 {
        var key = process
        key.ref = nil
        if let known = processRefs[key] {
            processRefs[key]?.used = true
            return known.ref
        }
        let values: [SQLiteStatement.Value] = [
            .text(process.host ?? ""), .integer(Int64(process.pid)),
            process.startTicks.map { .integer(Int64(bitPattern: $0)) } ?? .null, .text(process.command ?? ""),
        ]
        try connection.prepare(
            "INSERT OR IGNORE INTO processes(host, pid, start_ticks, command, uid, seen) VALUES (?, ?, ?, ?, ?, ?)"
        ).run(values + [process.uid.map { .integer(Int64($0)) } ?? .null, .real(time.timeIntervalSince1970)])
        let select = try connection.prepare(
            "SELECT id FROM processes WHERE host = ? AND pid = ? AND start_ticks IS ? AND command = ?")
        try select.bind(values)
        guard try select.step(), let id = select.integer(0) else {
            throw .init(description: "\(connection.path): a process row went missing")
        }
        processRefs[key] = (id, true)
        return id
    }

    /// Every process the row states name, by ref.
    private func processes() throws(Failure) -> [Int64: RowSnapshot.Process] {
        let statement = try connection.prepare(
            "SELECT id, host, pid, start_ticks, command, uid FROM processes LIMIT \(Self.readLimit)")
        try statement.bind([])
        var processes: [Int64: RowSnapshot.Process] = [:]
        while try statement.step() {
            guard let id = statement.integer(0), let pid = statement.integer(2).flatMap({ Int32(exactly: $0) }) else {
                continue
            }
            var process = RowSnapshot.Process(
                ProcessDetails(
                    processID: pid, hostName: statement.text(1) ?? "?",
                    startTicks: statement.integer(3).map { UInt64(bitPattern: $0) }, command: statement.text(4) ?? "?"))
            process.uid = statement.integer(5).flatMap { UInt32(exactly: $0) }
            processes[id] = process
        }
        return processes
    }

    /// Deletes what is older than `retention` before `now`. A row's latest state stays, however
    /// old, while the row is there, so that a replay from any kept moment shows it.
    public func prune(olderThan retention: TimeInterval, now: Date) throws(Failure) {
        let cutoff = now.timeIntervalSince1970 - retention
        try connection.inTransaction { () throws(Failure) in
            try connection.prepare("DELETE FROM events WHERE time < ?").run([.real(cutoff)])
            try connection.prepare(
                """
                DELETE FROM rows WHERE time < ? AND id NOT IN
                    (SELECT max(id) FROM rows GROUP BY source, row)
                """
            ).run([.real(cutoff)])
            try connection.prepare(
                "DELETE FROM rows WHERE time < ? AND snapshot IS NULL"
            ).run([.real(cutoff)])
            // A process this writer named since the last prune is still seen; one no row named
            // within the retention goes (another writer's, seen again, is added again).
            let touch = try connection.prepare("UPDATE processes SET seen = ? WHERE id = ?")
            for (key, entry) in processRefs where entry.used {
                try touch.run([.real(now.timeIntervalSince1970), .integer(entry.ref)])
                processRefs[key]?.used = false
            }
            try connection.prepare("DELETE FROM processes WHERE seen < ?").run([.real(cutoff)])
        }
    }

    /// The most entries one query reads (about 400 MB at worst): a journal, anyone's, costs bounded
    /// memory; a span that holds more is refused, to be narrowed.
    public static let readLimit = 2_000_000

    /// The events from `since` to `until`, of `key` and `source` when given, oldest first; at most
    /// `limit`, or ``readLimit`` (more is an error that says to narrow the span).
    public func events(
        since: Date? = nil, until: Date? = nil, key: String? = nil, source: String? = nil, limit: Int? = nil
    ) throws(Failure) -> [Entry] {
        let statement = try connection.prepare(
            """
            SELECT time, source, type, key, records, holder, previous_holder, detail, reason, broken_by, pid,
                expires_at, held_seconds, waited_seconds, took_lock, cycle, certain, host
            FROM events WHERE time >= ? AND time <= ? AND (? IS NULL OR key = ?) AND (? IS NULL OR source = ?)
            ORDER BY time, id LIMIT ?
            """)
        let keyValue: SQLiteStatement.Value = key.map { .text($0) } ?? .null
        let sourceValue: SQLiteStatement.Value = source.map { .text($0) } ?? .null
        let cap = limit ?? Self.readLimit
        try statement.bind(
            Self.span(since, until) + [keyValue, keyValue, sourceValue, sourceValue, .integer(Int64(cap) + 1)])
        var entries: [Entry] = []
        var read = 0
        while try statement.step() {
            read += 1
            if read > cap {
                if limit != nil { break }
                throw Failure(description: Self.tooMany("events", in: connection.path))
            }
            guard let entry = Self.entry(from: statement) else { continue }
            entries.append(entry)
        }
        return entries
    }

    /// The sources the journal holds events or rows of, at most 1,000.
    public func sources() throws(Failure) -> [String] {
        let statement = try connection.prepare(
            "SELECT source FROM events UNION SELECT source FROM rows ORDER BY 1 LIMIT 1000")
        try statement.bind([])
        var sources: [String] = []
        while try statement.step() { if let source = statement.text(0) { sources.append(source) } }
        return sources
    }

    private static func span(_ since: Date?, _ until: Date?) -> [SQLiteStatement.Value] {
        [
            .real(since?.timeIntervalSince1970 ?? -Double.greatestFiniteMagnitude),
            .real(until?.timeIntervalSince1970 ?? Double.greatestFiniteMagnitude),
        ]
    }

    private static func tooMany(_ what: String, in path: String) -> String {
        "\(path) holds more than \(readLimit) \(what) in this span: narrow it with --since and --until (or --key)"
    }

    /// The row changes from `since` to `until`, of `source` when given, oldest first; at most ``readLimit``.
    public func rowChanges(since: Date? = nil, until: Date? = nil, source: String? = nil) throws(Failure)
        -> [RowChange]
    {
        let statement = try connection.prepare(
            """
            SELECT time, source, row, snapshot FROM rows WHERE time >= ? AND time <= ? AND (? IS NULL OR source = ?)
            ORDER BY time, id LIMIT ?
            """)
        let processes = try processes()
        let sourceValue: SQLiteStatement.Value = source.map { .text($0) } ?? .null
        try statement.bind(
            Self.span(since, until) + [sourceValue, sourceValue, .integer(Int64(Self.readLimit) + 1)])
        var changes: [RowChange] = []
        while try statement.step() {
            if changes.count >= Self.readLimit {
                throw Failure(description: Self.tooMany("row changes", in: connection.path))
            }
            // A snapshot that does not decode is a row gone: a replay shows no lock it cannot read.
            guard let change = Self.rowChange(from: statement, processes: processes) else { continue }
            changes.append(change)
        }
        return changes
    }

    /// Each row's latest recorded state (rows gone left out).
    public func latestRows() throws(Failure) -> [RowChange] {
        let statement = try connection.prepare(
            """
            SELECT time, source, row, snapshot FROM rows WHERE id IN (SELECT max(id) FROM rows GROUP BY source, row)
                AND snapshot IS NOT NULL ORDER BY row
            """)
        let processes = try processes()
        try statement.bind([])
        var changes: [RowChange] = []
        while try statement.step() {
            guard let change = Self.rowChange(from: statement, processes: processes), change.snapshot != nil else {
                continue
            }
            changes.append(change)
        }
        return changes
    }

    /// The first and last times recorded, nil for an empty journal.
    public func span() throws(Failure) -> ClosedRange<Date>? {
        let statement = try connection.prepare(
            """
            SELECT min(t), max(t) FROM (SELECT min(time) AS t FROM events UNION ALL SELECT max(time) FROM events
                UNION ALL SELECT min(time) FROM rows UNION ALL SELECT max(time) FROM rows)
            """)
        try statement.bind([])
        guard try statement.step(), let first = statement.real(0), let last = statement.real(1),
            first.isFinite, last.isFinite, first <= last
        else { return nil }
        return Date(timeIntervalSince1970: first)...Date(timeIntervalSince1970: last)
    }

    /// The row change of a `SELECT time, source, row, snapshot` row, its processes filled in from
    /// `processes`; nil when its time, source or row is not there.
    private static func rowChange(from row: SQLiteStatement, processes: [Int64: RowSnapshot.Process]) -> RowChange? {
        guard let time = row.real(0), time.isFinite, let source = row.text(1), let rowID = row.text(2) else {
            return nil
        }
        return RowChange(
            time: Date(timeIntervalSince1970: time), source: source, rowID: rowID,
            snapshot: row.text(3).flatMap(RowSnapshot.init(encoded:))?.resolved(processes))
    }

    private static func values(of event: MonitorEvent, source: String) -> [SQLiteStatement.Value] {
        func text(_ value: String?) -> SQLiteStatement.Value { value.map { .text($0) } ?? .null }
        func real(_ value: Double?) -> SQLiteStatement.Value { value.map { .real($0) } ?? .null }
        return [
            .real(event.time.timeIntervalSince1970), .text(source), .text(event.kind.rawValue), .text(event.key),
            event.records.isEmpty ? .null : .text(event.records.joined(separator: "\n")), text(event.holder),
            text(event.previousHolder), text(event.detail), text(event.reason), text(event.brokenBy),
            event.processID.map { .integer(Int64($0)) } ?? .null, real(event.expiresAt?.timeIntervalSince1970),
            real(event.heldSeconds), real(event.waitedSeconds), event.tookLock.map { .integer($0 ? 1 : 0) } ?? .null,
            text(event.deadlock.map { DeadlockSnapshot($0).encoded }),
            event.deadlock.map { .integer($0.isCertain ? 1 : 0) } ?? .null, text(event.hostName),
        ]
    }

    private static func entry(from row: SQLiteStatement) -> Entry? {
        guard let time = row.real(0), time.isFinite, let source = row.text(1), let type = row.text(2),
            let kind = MonitorEvent.Kind(rawValue: type), let key = row.text(3)
        else { return nil }
        var event = MonitorEvent(
            time: Date(timeIntervalSince1970: time), kind: kind, key: key, holder: row.text(5),
            previousHolder: row.text(6), detail: row.text(7), reason: row.text(8), brokenBy: row.text(9),
            processID: row.integer(10).flatMap { Int32(exactly: $0) })
        event.records = row.text(4)?.split(separator: "\n").map(String.init) ?? []
        event.expiresAt = row.real(11).flatMap { $0.isFinite ? Date(timeIntervalSince1970: $0) : nil }
        event.heldSeconds = row.real(12).flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
        event.waitedSeconds = row.real(13).flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
        event.tookLock = row.integer(14).map { $0 != 0 }
        event.deadlock = row.text(15).flatMap(DeadlockSnapshot.init(encoded:))?.deadlock(
            isCertain: row.integer(16) == 1)
        event.hostName = row.text(17)
        return Entry(source: source, event: event)
    }
}
