/// The table's columns that fit a given width, sized to what the rows hold, and where each goes.
public struct TableColumns: Equatable, Sendable {
    public enum Kind: Hashable, Sendable {
        case key, task, state, holder, host, expires, held, wait, records, poll
    }

    public struct Column: Equatable, Sendable {
        public var kind: Kind
        public var title: String
        public var x: Int
        public var width: Int
        public var sort: SortOrder?
    }

    /// What each column wants: its title, its narrowest, its widest (0: any), its sort.
    private static let specs: [Kind: (title: String, minimum: Int, maximum: Int, sort: SortOrder?)] = [
        .key: ("KEY", 10, 48, .key), .task: ("TASK", 8, 24, nil), .state: ("STATE", 10, 10, .state),
        .holder: ("HOLDER", 10, 36, nil), .host: ("HOST", 6, 24, nil),
        .expires: ("EXPIRES", 8, 20, .expiry), .held: ("HELD", 5, 10, .age), .wait: ("WAIT", 4, 9, .wait),
        .poll: ("POLL", 6, 6, nil), .records: ("RECORDS", 8, 0, nil),
    ]
    /// Left to right.
    private static let order: [Kind] = [.key, .task, .state, .holder, .host, .expires, .held, .wait, .poll, .records]
    /// The columns kept longest when the terminal is narrow: the key and the state always.
    private static let importance: [Kind] = [
        .key, .state, .task, .expires, .holder, .host, .held, .wait, .poll, .records,
    ]

    /// The columns shown, left to right.
    public private(set) var visible: [Column] = []

    /// Chooses and sizes columns for `width` from what their text needs (`contentWidths`): each
    /// column starts at a base width (the key at most 20, the holder 14, the expiry 15), the least useful
    /// are dropped until the rest fit (the key and the state stay), and what is left widens the key,
    /// the expiry, the holder and the wait to their whole text, then the records.
    public init(width: Int, contentWidths: [Kind: Int] = [:]) {
        func wanted(_ kind: Kind) -> Int {
            let spec = Self.specs[kind]!
            let content = max(spec.title.count + (spec.sort == nil ? 0 : 1), contentWidths[kind] ?? 0)
            return max(spec.minimum, spec.maximum == 0 ? content : min(spec.maximum, content))
        }
        func base(_ kind: Kind) -> Int {
            switch kind {
            case .key: return min(wanted(kind), 20)
            case .holder: return min(wanted(kind), 14)
            case .expires: return min(wanted(kind), 15)
            case .records, .wait: return Self.specs[kind]!.minimum
            default: return wanted(kind)
            }
        }
        // One column of margin on the left, one space after each column.
        func cost(_ sizes: [Kind: Int]) -> Int { 1 + sizes.values.map { $0 + 1 }.reduce(0, +) }
        // The task column is there only for rows whose key is a cache hash, the host column only for
        // holders on other hosts (their cells are not empty).
        let kinds = Self.importance.filter { ![.task, .host].contains($0) || (contentWidths[$0] ?? 0) > 0 }
        var sizes = Dictionary(uniqueKeysWithValues: kinds.map { ($0, base($0)) })
        // A column goes only when it does not fit even with the key at its narrowest.
        let keySlack = sizes[.key]! - Self.specs[.key]!.minimum
        for kind in Self.importance.reversed().dropLast(2) where cost(sizes) - keySlack > width { sizes[kind] = nil }
        // Still too wide (a tiny terminal): the key gives way.
        sizes[.key] = max(Self.specs[.key]!.minimum, sizes[.key]! - max(0, cost(sizes) - width))
        for kind in [Kind.key, .expires, .holder, .wait] where sizes[kind] != nil {
            sizes[kind]! += min(max(0, width - cost(sizes)), wanted(kind) - sizes[kind]!)
        }
        let spare = max(0, width - cost(sizes))
        if sizes[.records] != nil { sizes[.records]! += spare } else { sizes[.key]! += spare }
        var x = 1
        for kind in Self.order where sizes[kind] != nil {
            let spec = Self.specs[kind]!
            visible.append(Column(kind: kind, title: spec.title, x: x, width: sizes[kind]!, sort: spec.sort))
            x += sizes[kind]! + 1
        }
    }
}
