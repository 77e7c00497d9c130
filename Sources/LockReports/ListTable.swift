import Foundation
import LockMonitor
import RecordStore

/// The human table of `locktop list`, as lslocks prints one: chosen columns (`-o`), with or
/// without headings (`-n`), fitted to a terminal's width, states painted by the caller, and the
/// records without a lock one per line (or only counted). No terminal code of its own.
public struct ListTable {
    /// A column of the table.
    public enum Column: String, CaseIterable, Sendable {
        case key = "KEY"
        case state = "STATE"
        case holder = "HOLDER"
        case expires = "EXPIRES"
        case held = "HELD"
        case records = "RECORDS"
        case reason = "REASON"

        /// The columns named in `list` (`key,state`; any case), or an error naming the valid ones.
        public static func parse(_ list: String) throws(ListTableError) -> [Column] {
            try list.split(separator: ",").map { name throws(ListTableError) in
                guard let column = Column(rawValue: name.trimmingCharacters(in: .whitespaces).uppercased()) else {
                    throw ListTableError.unknownColumn(String(name), known: allCases.map { $0.rawValue.lowercased() })
                }
                return column
            }
        }

        /// The columns shrunk first when the table is too wide.
        static let shrinkOrder: [Column] = [.reason, .records, .holder, .key, .expires]
        /// The columns dropped first when shrinking is not enough; the key and the state stay.
        static let dropOrder: [Column] = [.reason, .records, .held, .holder, .expires]
    }

    /// The columns, in order.
    public var columns: [Column] = Column.allCases
    /// Whether the first line names the columns.
    public var showsHeadings = true
    /// The width to fit, nil for no limit (not a terminal).
    public var width: Int?
    /// Whether the records without a lock are only counted.
    public var locksOnly = false
    /// Whether only the lock rows are printed, for scripts (`-o`, `-n`): no `no locks`, no summary,
    /// no records, no paths, so that `while read key` reads keys only.
    public var rowsOnly = false
    /// Paints a state cell (colour on a terminal); the text is already escaped and padded.
    public var paint: (String, LockClassification) -> String = { text, _ in text }

    public init() {}

    /// The table of `snapshot`, with the summary lines after it. Every text read from the
    /// directory is escaped by ``TerminalText``; only ``paint`` may add escape sequences.
    public func render(
        _ snapshot: DirectorySnapshot, classify: (LockEntry) -> LockClassification, auditLog: String, now: Date
    ) -> String {
        let locks = snapshot.locks.keys.sorted().map { snapshot.locks[$0]! }
        var lines = lockLines(locks, classify: classify, now: now) { lock in
            let records = snapshot.recordKeys(forLock: lock.name).joined(separator: ",")
            return records.isEmpty ? "-" : (snapshot.isShared(lock.name) ? "shared: " : "") + records
        }
        if rowsOnly { return lines.map { $0 + "\n" }.joined() }
        let unlocked = snapshot.unlockedRecordKeys
        lines.append("")
        lines.append(
            Self.count(snapshot.records.count, "record") + " (\(unlocked.count) without a lock), "
                + Self.count(snapshot.locks.count, "lock"))
        if !unlocked.isEmpty && !locksOnly {
            lines.append("records without a lock:")
            lines += unlocked.map { "  " + TerminalText.escaped($0) }
        }
        lines.append("records: \(TerminalText.escaped(snapshot.recordsDirectory))")
        if !snapshot.isSingleDirectory { lines.append("locks:   \(TerminalText.escaped(snapshot.locksDirectory))") }
        lines.append("audit log: \(TerminalText.escaped(auditLog))")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The table of `locks`, in the order given, or `no locks`; `records` says what the RECORDS
    /// column shows for each. The lines are escaped; only ``paint`` adds escape sequences.
    public func lockLines(
        _ locks: [LockEntry], classify: (LockEntry) -> LockClassification, now: Date,
        records: (LockEntry) -> String
    ) -> [String] {
        var rows: [[Column: String]] = []
        var verdicts: [LockClassification] = []
        for lock in locks {
            let classification = classify(lock)
            rows.append([
                .key: lock.key, .state: classification.label, .holder: Reports.shortHolder(lock.holder),
                .expires: lock.content == nil ? "-" : Reports.countdown(to: lock.content?.expiration, now: now),
                .held: DurationText.format(now.timeIntervalSince(lock.acquired)), .records: records(lock),
                .reason: classification.reason,
            ])
            verdicts.append(classification)
        }
        if rows.isEmpty { return rowsOnly ? [] : ["no locks"] }
        return table(rows, verdicts: verdicts, columns: columns)
    }

    /// `1 lock`, `2 locks`.
    public static func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }

    /// The rows in a ``TextTable``: the least useful columns dropped while even their headings do
    /// not fit ``width``, then the widest shrunk (with `…`) until the table fits.
    private func table(_ rows: [[Column: String]], verdicts: [LockClassification], columns: [Column]) -> [String] {
        var columns = columns
        func floor(_ column: Column) -> Int { max(4, column.rawValue.count) }
        if let width {
            for column in Column.dropOrder where columns.count > 1 {
                let narrowest = columns.map { floor($0) }.reduce(0, +) + 2 * (columns.count - 1)
                if narrowest <= width { break }
                columns.removeAll { $0 == column }
            }
        }
        let headings = showsHeadings ? [columns.map(\.rawValue)] : []
        var table = TextTable(headings + rows.map { row in columns.map { row[$0] ?? "" } }, width: width)
        table.shrinkOrder = Column.shrinkOrder.compactMap { columns.firstIndex(of: $0) }
        table.floors = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($0.offset, floor($0.element)) })
        let first = headings.count
        let paint = self.paint
        table.paint = { row, column, text in
            row >= first && columns[column] == .state ? paint(text, verdicts[row - first]) : text
        }
        return table.lines()
    }
}

/// A bad `-o` list.
public enum ListTableError: Error, CustomStringConvertible {
    case unknownColumn(String, known: [String])

    public var description: String {
        switch self {
        case .unknownColumn(let name, let known):
            return "unknown column \"\(TerminalText.escaped(name))\"; the columns are \(known.joined(separator: ","))"
        }
    }
}
