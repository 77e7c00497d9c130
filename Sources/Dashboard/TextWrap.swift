/// Wraps text at word boundaries for the dashboard's panes and dialogs.
enum TextWrap {
    /// `line` cut into pieces of at most `width` characters, at spaces where it can be (a word
    /// longer than the width is cut where it must be); every piece after the first starts with
    /// `indent`, inside the width.
    static func wrap(_ line: String, width: Int, indent: String = "") -> [String] {
        let width = max(1, width)
        guard line.count > width else { return [line] }
        var pieces: [String] = []
        var rest = Substring(line)
        var room = width
        while rest.count > room {
            let window = rest.prefix(room + 1)
            // The last space within reach ends the piece; none: the word is cut at the width.
            if let space = window.lastIndex(of: " "), space > rest.startIndex {
                pieces.append(String(rest[..<space]))
                rest = rest[rest.index(after: space)...]
            } else {
                pieces.append(String(rest.prefix(room)))
                rest = rest.dropFirst(room)
            }
            rest = rest.drop { $0 == " " }
            room = max(1, width - indent.count)
        }
        if !rest.isEmpty || pieces.isEmpty { pieces.append(String(rest)) }
        return pieces.enumerated().map { $0.offset == 0 ? $0.element : indent + $0.element }
    }
}
