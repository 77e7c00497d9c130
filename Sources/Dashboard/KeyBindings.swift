/// What a key does while browsing the table.
public enum KeyAction: Equatable, Sendable {
    case moveUp, moveDown, pageUp, pageDown, home, end
    case filter, clearFilter, sort, invertSort
    case detail, events, blocking, cycleFocus, freeze, toggleRecords, copyKey, copyPath
    case release, breakAll, signalHolder, breakDeadlock
    case help, quit
}

/// One entry of the key table: the keys, what they do, and how the footer, the help box and the
/// command's help name them.
public struct KeyBinding: Sendable {
    /// The keys that do it.
    public let keys: [Key]
    /// What they do.
    public let action: KeyAction
    /// The keys as the help box names them, such as `r F9`.
    public let keyText: String
    /// A word or two for where room is short, such as `release`.
    public let name: String
    /// What the help box says it does.
    public let help: String
    /// The footer's key and label, for the keys shown there.
    public let footer: (key: String, label: String)?
    /// Whether it changes the directory, so that `--read-only` hides and refuses it.
    public let isDestructive: Bool

    init(
        _ keys: [Key], _ action: KeyAction, _ keyText: String, _ name: String, _ help: String,
        footer: (key: String, label: String)? = nil, isDestructive: Bool = false
    ) {
        self.keys = keys
        self.action = action
        self.keyText = keyText
        self.name = name
        self.help = help
        self.footer = footer
        self.isDestructive = isDestructive
    }
}

/// The one table of the dashboard's keys (htop's and k9s's conventions where they have one). The
/// reducer dispatches through it; the footer, the help box and `locktop dashboard --help` are
/// written from it.
public enum KeyBindings {
    /// Every binding, in the order the help box lists them.
    public static let all: [KeyBinding] = [
        KeyBinding([.up], .moveUp, "↑", "up", "move up"),
        KeyBinding([.down], .moveDown, "↓", "down", "move down"),
        KeyBinding([.pageUp], .pageUp, "PgUp", "page up", "page up"),
        KeyBinding([.pageDown], .pageDown, "PgDn", "page down", "page down"),
        KeyBinding([.home], .home, "Home", "first", "first row"),
        KeyBinding([.end], .end, "End", "last", "last row"),
        KeyBinding(
            [.character("/"), .function(3)], .filter, "/ F3", "filter",
            "filter: words, state:stale, holder:vm, ! negates",
            footer: ("/", "Filter")),
        KeyBinding([.escape], .clearFilter, "Esc", "clear filter", "clear the filter"),
        KeyBinding(
            [.character("s"), .function(6)], .sort, "s F6", "sort",
            "sort: expiry, key, age, state, wait, waiting, hold p95, acq/min, hot",
            footer: ("s", "Sort")),
        KeyBinding([.character("I")], .invertSort, "I", "invert sort", "invert the sort"),
        KeyBinding(
            [.enter], .detail, "Enter", "detail", "detail pane: holder, raw JSON, record, contention",
            footer: ("⏎", "Detail")),
        KeyBinding(
            [.character("e")], .events, "e", "events", "event log: acquired, released, expired, broken",
            footer: ("e", "Events")),
        KeyBinding(
            [.tab], .cycleFocus, "Tab", "focus",
            "focus the detail pane, then the event log: the moves scroll it; Tab moves on"),
        KeyBinding(
            [.character("Z"), .character(" ")], .freeze, "Z Space", "freeze", "freeze the table (events still queue)",
            footer: ("Z", "Freeze")),
        KeyBinding([.character("R")], .toggleRecords, "R", "records", "hide or show records without a lock"),
        KeyBinding([.character("c")], .copyKey, "c", "copy key", "copy the selected key to the clipboard (OSC 52)"),
        KeyBinding(
            [.character("C")], .copyPath, "C", "copy path", "copy the lock file's path (a record's, without one)"),
        KeyBinding(
            [.character("r"), .function(9)], .release, "r F9", "release", "release the selected lock (asks first)",
            footer: ("r", "Release"), isDestructive: true),
        KeyBinding(
            [.character("X")], .breakAll, "X", "break all", "break every expired and stale lock (asks first)",
            footer: ("X", "BreakAll"), isDestructive: true),
        KeyBinding(
            [.character("k")], .signalHolder, "k", "signal",
            "signal the holder's local process: SIGTERM, then SIGKILL (asks first)", isDestructive: true),
        KeyBinding(
            [.character("b")], .blocking, "b", "blocking",
            "who blocks whom: holders, their waiters and what those hold, as a tree"),
        KeyBinding(
            [.character("D")], .breakDeadlock, "D", "deadlock",
            "break one lock of the header's deadlock: choose which, then confirm as r asks", isDestructive: true),
        KeyBinding([.character("?"), .function(1)], .help, "? F1", "help", "this help", footer: ("?", "Help")),
        KeyBinding([.character("q"), .function(10)], .quit, "q F10", "quit", "quit", footer: ("q", "Quit")),
    ]

    /// The keys, most important first: what the footer and the small help keep when the terminal is narrow.
    static let importance: [KeyAction] = [
        .quit, .help, .release, .breakAll, .signalHolder, .breakDeadlock, .filter, .sort, .freeze, .events, .detail,
        .blocking,
        .toggleRecords, .invertSort, .cycleFocus, .copyKey, .copyPath, .clearFilter, .moveUp, .moveDown, .pageUp,
        .pageDown, .home, .end,
    ]

    /// The footer's order, htop's: help first, quit last.
    static let footerOrder: [KeyAction] = [
        .help, .filter, .sort, .detail, .events, .freeze, .release, .breakAll, .quit,
    ]

    /// What `key` does while browsing, nil when nothing.
    public static func action(for key: Key) -> KeyAction? {
        all.first { $0.keys.contains(key) }?.action
    }

    /// The bindings of the footer, in its order, for a read-only dashboard or not.
    static func footer(isReadOnly: Bool) -> [KeyBinding] {
        footerOrder.compactMap { action in
            all.first { $0.action == action && $0.footer != nil && !(isReadOnly && $0.isDestructive) }
        }
    }

    /// The bindings a read-only dashboard or not offers, most important first.
    static func byImportance(isReadOnly: Bool) -> [KeyBinding] {
        importance.compactMap { action in all.first { $0.action == action && !(isReadOnly && $0.isDestructive) } }
    }

    /// The help box's key lines: `r F9     release the selected lock (asks first)`.
    static func helpLines(isReadOnly: Bool) -> [String] {
        all.map { binding in
            let help = isReadOnly && binding.isDestructive ? "disabled (--read-only)" : binding.help
            return binding.keyText.padding(toLength: 9, withPad: " ", startingAt: 0) + help
        }
    }

    /// One paragraph for `locktop dashboard --help`.
    public static var summary: String {
        "Keys: " + all.map { "\($0.keyText) \($0.help)" }.joined(separator: "; ") + "."
    }
}
