/// What the moves (arrows, pages, Home, End, the wheel) act on: the table, or a pane that `Tab`
/// focused to scroll it.
public enum PaneFocus: Equatable, Sendable {
    case table, detail, events

    /// The focus after `Tab`, top to bottom: the table, the detail pane when it is shown, the event
    /// log (shown by focusing it), and back to the table.
    func next(showsDetail: Bool) -> PaneFocus {
        switch self {
        case .table: return showsDetail ? .detail : .events
        case .detail: return .events
        case .events: return .table
        }
    }
}
