import Foundation

/// Task duration over a DAG's recent runs (Airflow's Task Duration view): a line per task, oldest run
/// on the left. Each series has its own marker shape as well as its own colour, and the legend shows
/// both, so the series can be told apart without colour.
struct DurationChart {
    struct Series: Equatable {
        var name: String
        /// Seconds per run, nil where the task did not run.
        var values: [Double?]
    }

    let runLabels: [String]
    let series: [Series]

    static let shapes = ["circle", "square", "triangle", "diamond", "cross", "circle-open", "square-open", "triangle-open"]

    func svg() -> HTML {
        let left = 56.0, right = 16.0, top = 14.0, bottom = 34.0, plotWidth = 820.0, plotHeight = 260.0
        let width = left + plotWidth + right
        let legendRows = (series.count + 3) / 4
        let height = top + plotHeight + bottom + Double(legendRows) * 18 + 8
        let maxValue = Self.niceCeiling(series.flatMap { $0.values.compactMap { $0 } }.max() ?? 1)
        let count = max(1, runLabels.count)
        func x(_ i: Int) -> Double { count == 1 ? left + plotWidth / 2 : left + plotWidth * Double(i) / Double(count - 1) }
        func y(_ v: Double) -> Double { top + plotHeight - plotHeight * v / maxValue }
        var out: HTML = "<svg class=\"chart durations\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" role=\"img\" aria-label=\"Task duration per run, in seconds\">"
        for i in 0...4 {
            let v = maxValue * Double(i) / 4
            out += "<line class=\"gridline\" x1=\"\(left)\" y1=\"\(y(v))\" x2=\"\(left + plotWidth)\" y2=\"\(y(v))\"/>"
            out += "<text class=\"muted\" x=\"\(left - 6)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(Layout.durationText(v))</text>"
        }
        out += "<line class=\"axis\" x1=\"\(left)\" y1=\"\(top + plotHeight)\" x2=\"\(left + plotWidth)\" y2=\"\(top + plotHeight)\"/>"
        let step = max(1, count / 8)
        for (i, label) in runLabels.enumerated() where i % step == 0 || i == count - 1 {
            out += "<text class=\"muted\" x=\"\(x(i))\" y=\"\(top + plotHeight + 16)\" text-anchor=\"middle\">\(label)</text>"
        }
        for (s, item) in series.enumerated() {
            let cls = "s\(s % 8)"
            var d = ""
            var pen = false
            for (i, value) in item.values.enumerated() {
                guard let value else { pen = false; continue }
                d += "\(pen ? "L" : "M") \(HTML.number(x(i))) \(HTML.number(y(value))) "
                pen = true
            }
            if !d.isEmpty { out += "<path class=\"series \(cls)\" d=\"\(d)\"/>" }
            for (i, value) in item.values.enumerated() {
                guard let value else { continue }
                out += Self.marker(Self.shapes[s % Self.shapes.count], x: x(i), y: y(value), cls: cls,
                                   title: "\(item.name), \(runLabels.indices.contains(i) ? runLabels[i] : ""): \(Layout.durationText(value))")
            }
        }
        let legendTop = top + plotHeight + bottom
        for (s, item) in series.enumerated() {
            let lx = left + Double(s % 4) * 210, ly = legendTop + Double(s / 4) * 18
            out += Self.marker(Self.shapes[s % Self.shapes.count], x: lx + 5, y: ly, cls: "s\(s % 8)", title: item.name)
            out += "<text x=\"\(lx + 15)\" y=\"\(ly + 4)\">\(item.name)</text>"
        }
        out += "</svg>"
        return out
    }

    static func marker(_ shape: String, x: Double, y: Double, cls: String, title: String) -> HTML {
        let t: HTML = "<title>\(title)</title>"
        switch shape {
        case "square": return "<rect class=\"\(cls)\" x=\"\(x - 4)\" y=\"\(y - 4)\" width=\"8\" height=\"8\">\(t)</rect>"
        case "triangle": return "<path class=\"\(cls)\" d=\"M \(x) \(y - 5) L \(x + 5) \(y + 4) L \(x - 5) \(y + 4) Z\">\(t)</path>"
        case "diamond": return "<path class=\"\(cls)\" d=\"M \(x) \(y - 5) L \(x + 5) \(y) L \(x) \(y + 5) L \(x - 5) \(y) Z\">\(t)</path>"
        case "cross": return "<path class=\"\(cls)\" stroke-width=\"2\" d=\"M \(x - 4) \(y - 4) L \(x + 4) \(y + 4) M \(x + 4) \(y - 4) L \(x - 4) \(y + 4)\">\(t)</path>"
        case "circle-open": return "<circle class=\"\(cls)\" fill-opacity=\"0\" stroke-width=\"1.6\" cx=\"\(x)\" cy=\"\(y)\" r=\"4\">\(t)</circle>"
        case "square-open": return "<rect class=\"\(cls)\" fill-opacity=\"0\" stroke-width=\"1.6\" x=\"\(x - 4)\" y=\"\(y - 4)\" width=\"8\" height=\"8\">\(t)</rect>"
        case "triangle-open": return "<path class=\"\(cls)\" fill-opacity=\"0\" stroke-width=\"1.6\" d=\"M \(x) \(y - 5) L \(x + 5) \(y + 4) L \(x - 5) \(y + 4) Z\">\(t)</path>"
        default: return "<circle class=\"\(cls)\" cx=\"\(x)\" cy=\"\(y)\" r=\"4\">\(t)</circle>"
        }
    }

    /// 1, 2, 5 × 10^n at or above `value`, so the axis reads in round numbers.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let magnitude = pow(10, floor(log10(value)))
        for factor in [1.0, 2, 5, 10] where factor * magnitude >= value { return factor * magnitude }
        return 10 * magnitude
    }
}
