/// The table's columns that fit a given width, and where each goes.
public struct TableColumns: Equatable, Sendable {
    public enum Kind: Hashable, Sendable {
        case key, state, holder, expires, held, wait, records, poll
    }

    public struct Column: Equatable, Sendable {
        public var kind: Kind
        public var title: String
        public var x: Int
        public var width: Int
        public var sort: SortOrder?
    }

    /// The columns shown, left to right.
    public private(set) var visible: [Column] = []

    /// Chooses columns for `width`: key, state and expiry always; then holder, age, waiters, poll pressure
    /// and records as room allows. The key, holder and records share what is left.
    public init(width: Int) {
        let fixed: [(Kind, String, Int, SortOrder?)] = [
            (.state, "STATE", 10, .state), (.expires, "EXPIRES", 16, .expiry), (.held, "HELD", 10, .age), (.poll, "POLL", 6, nil),
        ]
        var chosen: [(Kind, String, Int, SortOrder?)] = [(.key, "KEY", 0, .key), fixed[0], fixed[1]]
        var used = 12 + 10 + 16 + 3
        let optional: [(Kind, String, Int, SortOrder?)] = [(.holder, "HOLDER", 14, nil), fixed[2], (.wait, "WAIT", 4, nil), fixed[3],
                                                            (.records, "RECORDS", 14, nil)]
        for column in optional where used + column.2 + 1 <= width {
            chosen.append(column)
            used += column.2 + 1
        }
        let order: [Kind] = [.key, .state, .holder, .expires, .held, .wait, .poll, .records]
        chosen.sort { order.firstIndex(of: $0.0)! < order.firstIndex(of: $1.0)! }
        var spare = max(0, width - used)
        var x = 1
        for (kind, title, minimum, sort) in chosen {
            var columnWidth = kind == .key ? 12 : minimum
            if kind == .key || kind == .holder || kind == .records {
                let share = kind == .key ? spare / 4 : (kind == .holder ? min(spare / 3, 20) : spare)
                columnWidth += share
                spare -= share
            }
            visible.append(Column(kind: kind, title: title, x: x, width: columnWidth, sort: sort))
            x += columnWidth + 1
        }
    }
}
