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
        var bottom = status.top
        let spare = max(0, bottom - tableTop - 3)
        if state.showsEvents, height >= 16 {
            // The log grows with the terminal, and takes half of it while it has the focus.
            let size = min(state.focusesEvents ? height / 2 : max(3, height / 5), spare)
            if size >= 3 {
                bottom -= size
                events = Region(top: bottom, height: size)
            }
        }
        if state.showsDetail {
            let size = min(14, max(4, height * 2 / 5), max(0, bottom - tableTop - 3))
            if size >= 4 {
                bottom -= size
                detail = Region(top: bottom, height: size)
            }
        }
        table = Region(top: tableTop, height: max(0, bottom - tableTop))
    }
}
