/// A key press, as the backend decodes it.
public enum Key: Equatable, Sendable {
    case up, down, pageUp, pageDown, home, end
    case enter, escape, backspace
    case function(Int)
    case character(Character)
}
