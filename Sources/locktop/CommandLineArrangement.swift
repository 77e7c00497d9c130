/// What `locktop`'s own arguments say before argument-parser reads them: options given before a
/// subcommand move after it (`locktop --dir X list` is `locktop list --dir X`), and a word that is
/// no subcommand is caught with a suggestion instead of the dashboard's usage.
enum CommandLineArrangement: Equatable {
    /// The arguments to parse.
    case arguments([String])
    /// The first word names no subcommand; `suggestion` is the closest one, if any is close.
    case unknownCommand(String, suggestion: String?)

    /// Arranges `arguments` (without the program name) for `subcommands`. An option followed by a
    /// word that is not a subcommand is read as taking that word as its value (`--dir X`); `--`
    /// and `--name=value` are left alone.
    static func arrange(_ arguments: [String], subcommands: [String]) -> CommandLineArrangement {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { break }
            if subcommands.contains(argument) {
                guard index > 0 else { return .arguments(arguments) }
                return .arguments([argument] + arguments[..<index] + arguments[(index + 1)...])
            }
            if argument.hasPrefix("-") {
                let takesNext =
                    argument.hasPrefix("--") && !argument.contains("=") && index + 1 < arguments.count
                    && !arguments[index + 1].hasPrefix("-") && !subcommands.contains(arguments[index + 1])
                index += takesNext ? 2 : 1
                continue
            }
            return .unknownCommand(argument, suggestion: closest(to: argument, in: subcommands))
        }
        return .arguments(arguments)
    }

    /// The subcommand within two edits of `word` (one for short words), nearest first.
    static func closest(to word: String, in subcommands: [String]) -> String? {
        let limit = word.count <= 3 ? 1 : 2
        return subcommands.map { ($0, distance(word, $0)) }.filter { $0.1 <= limit }.min { $0.1 < $1.1 }?.0
    }

    /// The Damerau–Levenshtein distance (a swap of two neighbours counts as one edit, so `lsit` is one from `list`).
    static func distance(_ first: String, _ second: String) -> Int {
        let a = Array(first)
        let b = Array(second)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }
}
