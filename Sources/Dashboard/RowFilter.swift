import LockMonitor
import RecordStore

/// The dashboard's filter, as k9s reads one: words that must all match, each a bare word (the
/// key, a record key, or the holder as stored or as shown), `state:WORD` (the state as the table
/// labels it: `state:stale`, `state:held?`), or `holder:WORD`; `!` before a word negates it.
/// Case does not matter.
public struct RowFilter: Equatable, Sendable {
    /// One word of the filter.
    struct Term: Equatable, Sendable {
        enum Field: Equatable, Sendable { case any, state, holder }
        var field: Field
        var needle: String
        var isNegated: Bool
    }

    let terms: [Term]

    /// Parses `text`; an empty text matches everything.
    public init(_ text: String) {
        terms = text.lowercased().split(separator: " ").compactMap { word in
            var word = Substring(word)
            let isNegated = word.hasPrefix("!")
            if isNegated { word = word.dropFirst() }
            var field = Term.Field.any
            if word.hasPrefix("state:") {
                field = .state
                word = word.dropFirst("state:".count)
            } else if word.hasPrefix("holder:") {
                field = .holder
                word = word.dropFirst("holder:".count)
            }
            return word.isEmpty ? nil : Term(field: field, needle: String(word), isNegated: isNegated)
        }
    }

    /// Whether `row` passes every word.
    public func matches(_ row: LockRow) -> Bool {
        terms.allSatisfy { term in
            let holders = [row.holder?.rawValue, row.holderText].compactMap { $0?.lowercased() }
            let found: Bool
            switch term.field {
            case .state:
                found =
                    StateStyle.of(row).label.lowercased().hasPrefix(term.needle)
                    || row.state?.rawValue.hasPrefix(term.needle) == true
            case .holder:
                found = Self.holderMatches(term.needle, holders: holders, processID: row.holderProcessID)
            case .any:
                found =
                    row.key.lowercased().contains(term.needle) || holders.contains { $0.contains(term.needle) }
                    || row.records.contains { $0.lowercased().contains(term.needle) }
            }
            return found != term.isNegated
        }
    }

    /// Whether `holder:NEEDLE` matches: a number is a pid, matched whole (the holder's process, or
    /// a `host:pid:…` field), never the digits inside a thread id; other words match within the holder.
    static func holderMatches(_ needle: String, holders: [String], processID: Int32?) -> Bool {
        guard let pid = Int32(needle) else { return holders.contains { $0.contains(needle) } }
        if processID == pid { return true }
        return holders.contains { LockHolder($0).processID == pid }
    }

    /// Whether `event` passes: its key and holders against the words; state words are left to the
    /// rows (an event has no state of its own).
    public func matches(_ event: MonitorEvent) -> Bool {
        terms.allSatisfy { term in
            let holders = [event.holder, event.previousHolder].compactMap { $0?.lowercased() }
            let found: Bool
            switch term.field {
            case .state: return true
            case .holder:
                found = Self.holderMatches(term.needle, holders: holders, processID: nil)
            case .any:
                found =
                    event.key.lowercased().contains(term.needle) || holders.contains { $0.contains(term.needle) }
                    || event.records.contains { $0.lowercased().contains(term.needle) }
            }
            return found != term.isNegated
        }
    }
}
