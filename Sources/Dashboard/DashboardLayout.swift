/// A rectangle of rows on the screen.
public struct Region: Equatable, Sendable {
    public var top: Int
    public var height: Int
    public var bottom: Int { top + height }
}

/// Where each part of the dashboard goes for a given size and set of panes.
public struct DashboardLayout: Equatable, Sendable {
    /// The smallest terminal the dashboard draws in.
    public static let minimumWidth = 40
    public static let minimumHeight = 10

    public var isTooSmall: Bool
    public var header = Region(top: 0, height: 2)
    public var columnHeader = Region(top: 2, height: 1)
    public var table: Region
    public var detail: Region?
    public var events: Region?
    public var status: Region
    public var footer: Region

    /// Lays out `state`'s screen.
    public init(state: DashboardState) {
        let height = state.height
        isTooSmall = state.width < Self.minimumWidth || height < Self.minimumHeight
        footer = Region(top: height - 1, height: 1)
        status = Region(top: height - 2, height: 1)
        // An alert that does not fit beside the counts gets a line of its own.
        header.height = DashboardRenderer.headerHeight(state)
        columnHeader.top = header.bottom
        let tableTop = columnHeader.bottom
        // The table keeps 3 rows; the panes share the rest, the focused one first, else the log.
        var room = max(0, status.top - tableTop - 3)
        var eventsSize = 0
        var detailSize = 0
        func takeEvents() {
            guard state.showsEvents, height >= 16 else { return }
            // The log grows with the terminal, and takes half of it while it has the focus.
            let size = min(state.focus == .events ? height / 2 : max(3, height / 5), room)
            if size >= 3 { (eventsSize, room) = (size, room - size) }
        }
        func takeDetail() {
            guard state.showsDetail else { return }
            // The detail pane takes what its lines need, up to the screen; past that it scrolls.
            let size = min(DashboardRenderer.detailText(state).count + 1, room)
            if size >= 4 { (detailSize, room) = (size, room - size) }
        }
        if state.focus == .detail {
            takeDetail()
            takeEvents()
        } else {
            takeEvents()
            takeDetail()
        }
        var bottom = status.top
        if eventsSize > 0 {
            bottom -= eventsSize
            events = Region(top: bottom, height: eventsSize)
        }
        if detailSize > 0 {
            bottom -= detailSize
            detail = Region(top: bottom, height: detailSize)
        }
        table = Region(top: tableTop, height: max(0, bottom - tableTop))
    }
}
