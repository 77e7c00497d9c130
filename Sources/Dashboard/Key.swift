/// A key press, as the backend decodes it.
public enum Key: Equatable, Sendable {
    case up, down, pageUp, pageDown, home, end
    case enter, escape, backspace, tab
    case function(Int)
    case character(Character)
    /// A control chord such as Ctrl-F, as its lower-case letter.
    case control(Character)
}
