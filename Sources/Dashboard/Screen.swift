import RecordStore

/// A colour role; the backend maps roles to terminal colours, or to plain attributes without colour.
public enum ColorRole: UInt8, Sendable, CaseIterable {
    case normal, header, title, held, unknown, suspect, expired, stale, unreadable, writing, selection, footerKey,
        footerLabel, dialog, dim, accent

    /// The role's foreground as an ANSI colour number (1 red, 2 green, 3 yellow, 4 blue,
    /// 5 magenta, 6 cyan, 7 white), nil for the terminal's own: the one colour table, read by the ncurses
    /// backend and by the CLI's tables.
    public var ansiColor: Int16? {
        switch self {
        case .normal, .header, .dim, .footerKey, .dialog: return nil
        case .held: return 2
        case .expired: return 1
        case .stale: return 3
        case .unreadable: return 5
        case .suspect: return 7
        case .unknown, .selection: return 4
        case .title, .writing, .footerLabel, .accent: return 6
        }
    }
}

/// How one cell looks.
public struct CellStyle: Equatable, Sendable {
    public var role: ColorRole
    public var bold: Bool
    public var reverse: Bool

    public init(_ role: ColorRole = .normal, bold: Bool = false, reverse: Bool = false) {
        self.role = role
        self.bold = bold
        self.reverse = reverse
    }

    public static let plain = CellStyle()
}

/// One character cell.
public struct Cell: Equatable, Sendable {
    public var character: Character
    public var style: CellStyle
}

/// A grid of styled characters that the renderer draws into and the backend copies to the terminal.
/// Tests compare its text.
public struct Screen: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    /// A blank grid.
    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: Cell(character: " ", style: .plain), count: self.width * self.height)
    }

    /// The cell at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> Cell {
        cells[y * width + x]
    }

    /// Writes `text` from column `x` of row `y`, clipped to `maxWidth` and the screen edge.
    /// Control characters are escaped by ``TerminalText`` (ESC shows as `\x1B`). Returns the column after the text.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: CellStyle = .plain, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height else { return x }
        var column = x
        let limit = min(width, maxWidth.map { x + $0 } ?? width)
        for character in TerminalText.escaped(text) {
            guard column < limit else { break }
            if column >= 0 { cells[y * width + column] = Cell(character: character, style: style) }
            column += 1
        }
        return column
    }

    /// Fills a rectangle with spaces in `style`.
    public mutating func fill(x: Int, y: Int, width: Int, height: Int, style: CellStyle) {
        for row in max(0, y)..<min(self.height, y + height) {
            for column in max(0, x)..<min(self.width, x + width) {
                cells[row * self.width + column] = Cell(character: " ", style: style)
            }
        }
    }

    /// The text of row `y`, trailing spaces removed.
    public func line(_ y: Int) -> String {
        var text = String(cells[(y * width)..<((y + 1) * width)].map(\.character))
        while text.last == " " { text.removeLast() }
        return text
    }

    /// Every row as text, for snapshots.
    public var text: String {
        (0..<height).map(line).joined(separator: "\n")
    }
}

extension String {
    /// The text, escaped for the terminal, cut or padded with spaces to exactly `width` characters; a cut ends in `…`.
    func fitted(to width: Int) -> String {
        guard width > 0 else { return "" }
        let text = TerminalText.escaped(self)
        if text.count > width { return String(text.prefix(width - 1)) + "…" }
        return text + String(repeating: " ", count: width - text.count)
    }
}
