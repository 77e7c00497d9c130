/// What the backend reported.
public enum TerminalInput: Equatable, Sendable {
    case key(Key)
    case resize(width: Int, height: Int)
    /// A click at a column and row.
    case click(x: Int, y: Int)
    /// The wheel: negative lines up, positive down.
    case wheel(lines: Int)
}

/// What ``DashboardSession`` needs of a terminal: ncurses in `TerminalBackend`, or an
/// ``InMemoryBackend`` that lets tests drive the whole loop without one.
public protocol DashboardBackend: AnyObject {
    /// The size in columns and rows.
    var size: (width: Int, height: Int) { get }
    /// A descriptor that is readable when input waits.
    var inputDescriptor: Int32 { get }
    /// A descriptor that becomes readable on a termination signal, or -1.
    var signalDescriptor: Int32 { get }
    /// Shows `screen`.
    func draw(_ screen: Screen)
    /// Every pending key or resize, without waiting.
    func readInput() -> [TerminalInput]
    /// The termination signal that made ``signalDescriptor`` readable, or 0.
    func readSignal() -> Int32
    /// Puts `text` on the clipboard of the terminal (and of tmux, with `set-clipboard on`).
    func copyToClipboard(_ text: String)
}
