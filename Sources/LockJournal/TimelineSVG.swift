import Foundation

/// `report --svg`: a ``Timeline`` drawn as a standalone SVG for a post-mortem. Each lock is a lane:
/// holds as bars, one colour and letter per holder; waiters as a grey band below, as tall as the
/// queue; breaks as red marks; time ticks across the top and the holders' legend below.
public struct TimelineSVG {
    /// The picture's width, in pixels.
    public static let width = 1000
    static let labelWidth = 160
    static let laneHeight = 34
    static let top = 36
    static let legendLine = 16

    /// The picture's height for `timeline`, in pixels.
    public static func height(of timeline: Timeline) -> Int {
        top + timeline.lanes.count * laneHeight + 24 + (timeline.holders.count + 1) * legendLine + 8
    }

    /// The SVG text of `timeline`; every name in it is escaped.
    public static func render(_ timeline: Timeline) -> String {
        let height = height(of: timeline)
        let plot = Double(width - labelWidth - 20)
        let seconds = max(timeline.span.upperBound.timeIntervalSince(timeline.span.lowerBound), 0.001)
        func x(_ date: Date) -> Double {
            Double(labelWidth) + plot * min(1, max(0, date.timeIntervalSince(timeline.span.lowerBound) / seconds))
        }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="DejaVu Sans Mono, monospace" font-size="12">
            <rect width="100%" height="100%" fill="#ffffff"/>

            """
        let step = tickStep(seconds)
        var tick = (timeline.span.lowerBound.timeIntervalSince1970 / step).rounded(.up) * step
        while tick <= timeline.span.upperBound.timeIntervalSince1970 {
            let position = x(Date(timeIntervalSince1970: tick))
            let bottom = top + timeline.lanes.count * laneHeight
            svg += """
                <line x1="\(f(position))" y1="\(top - 6)" x2="\(f(position))" y2="\(bottom)" stroke="#dddddd"/>
                <text x="\(f(position))" y="\(top - 10)" text-anchor="middle" fill="#555555">\(Timeline.clock(Date(timeIntervalSince1970: tick)))</text>

                """
            tick += step
        }
        let deepest = max(1, timeline.lanes.flatMap(\.waiters).max() ?? 1)
        for (row, lane) in timeline.lanes.enumerated() {
            let y = top + row * laneHeight
            svg += "<text x=\"8\" y=\"\(y + 15)\" fill=\"#222222\">\(escaped(String(lane.title.prefix(20))))</text>\n"
            for hold in lane.history.holds {
                let end = hold.end ?? timeline.span.upperBound
                guard end > timeline.span.lowerBound, hold.start < timeline.span.upperBound else { continue }
                let name = Timeline.holderName(of: hold)
                let index = timeline.holders.firstIndex(of: name) ?? 0
                let left = x(hold.start)
                let barWidth = max(1, x(end) - left)
                svg +=
                    "<rect x=\"\(f(left))\" y=\"\(y + 3)\" width=\"\(f(barWidth))\" height=\"16\" fill=\"\(color(index))\">"
                svg += "<title>\(escaped(name))</title></rect>\n"
                if barWidth >= 10 {
                    svg +=
                        "<text x=\"\(f(left + barWidth / 2))\" y=\"\(y + 15)\" text-anchor=\"middle\" fill=\"#ffffff\">\(Timeline.letter(index))</text>\n"
                }
            }
            let columnWidth = plot / Double(lane.waiters.count)
            for (column, count) in lane.waiters.enumerated() where count > 0 {
                let barHeight = 10 * Double(count) / Double(deepest)
                svg +=
                    "<rect x=\"\(f(Double(labelWidth) + Double(column) * columnWidth))\" y=\"\(f(Double(y + 31) - barHeight))\" width=\"\(f(columnWidth))\" height=\"\(f(barHeight))\" fill=\"#999999\"/>\n"
            }
            for time in lane.history.breaks where timeline.span.contains(time) {
                let position = x(time)
                svg +=
                    "<line x1=\"\(f(position))\" y1=\"\(y)\" x2=\"\(f(position))\" y2=\"\(y + 22)\" stroke=\"#d62728\" stroke-width=\"3\"/>\n"
            }
        }
        var y = top + timeline.lanes.count * laneHeight + 24
        svg +=
            "<text x=\"8\" y=\"\(y)\" fill=\"#555555\">bars: who held each lock; grey below: how many waited (up to \(deepest)); red: a break</text>\n"
        for (index, holder) in timeline.holders.prefix(Timeline.legendLimit).enumerated() {
            y += legendLine
            svg += "<rect x=\"8\" y=\"\(y - 11)\" width=\"12\" height=\"12\" fill=\"\(color(index))\"/>"
            svg += "<text x=\"26\" y=\"\(y)\" fill=\"#222222\">\(Timeline.letter(index))  \(escaped(holder))</text>\n"
        }
        if timeline.holders.count > Timeline.legendLimit {
            y += legendLine
            svg +=
                "<text x=\"26\" y=\"\(y)\" fill=\"#555555\">… and \(timeline.holders.count - Timeline.legendLimit) more holders</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// A tick every 1, 2, 5 or 10 of some unit, about eight across.
    static func tickStep(_ seconds: Double) -> Double {
        let steps: [Double] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400]
        return steps.first { seconds / $0 <= 10 } ?? 86400 * (seconds / 86400 / 10).rounded(.up)
    }

    /// Holder `index`'s colour: hues spread around the wheel, dark enough for white letters.
    static func color(_ index: Int) -> String {
        let hue = Double((index * 137) % 360) / 60
        let (saturation, lightness) = (0.55, 0.42)
        let chroma = (1 - abs(2 * lightness - 1)) * saturation
        let second = chroma * (1 - abs(hue.truncatingRemainder(dividingBy: 2) - 1))
        let (red, green, blue): (Double, Double, Double) =
            switch Int(hue) {
            case 0: (chroma, second, 0)
            case 1: (second, chroma, 0)
            case 2: (0, chroma, second)
            case 3: (0, second, chroma)
            case 4: (second, 0, chroma)
            default: (chroma, 0, second)
            }
        let base = lightness - chroma / 2
        return "#" + [red, green, blue].map { String(format: "%02x", Int(((($0 + base) * 255)).rounded())) }.joined()
    }

    /// `text` safe inside an SVG element: markup characters as entities, and characters XML may not
    /// hold (controls) as U+FFFD.
    static func escaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            default:
                let value = scalar.value
                let allowed =
                    value == 0x9 || value == 0xA || value == 0xD || (0x20...0xD7FF).contains(value)
                    || (0xE000...0xFFFD).contains(value) || (0x10000...0x10FFFF).contains(value)
                result.unicodeScalars.append(allowed && !(0x7F...0x9F).contains(value) ? scalar : "\u{FFFD}")
            }
        }
        return result
    }

    private static func f(_ value: Double) -> String { String(format: "%.1f", value) }
}
