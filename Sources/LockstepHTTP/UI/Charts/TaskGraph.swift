import Foundation
import LockstepCore

/// A DAG's tasks drawn left to right as an SVG: a column per depth (the longest path from a root),
/// each task a box with its id, a state glyph and word, linked to the task in the run; edges as curves
/// with arrowheads. The layout is a pure function of the spec, so the same DAG always looks the same.
struct TaskGraph {
    struct Node: Equatable {
        var id: String
        var column: Int
        var row: Int
    }

    let nodes: [Node]
    let edges: [(from: String, to: String)]

    init(_ dag: DagSpec) {
        let order = Dictionary(dag.tasks.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        var depth: [String: Int] = [:]
        // Declaration order is a valid order for a validated DAG only if upstreams come first; they
        // need not, so relax until nothing changes (at most as many passes as tasks).
        for _ in 0..<max(1, dag.tasks.count) {
            var changed = false
            for task in dag.tasks {
                let d = task.upstream.compactMap { depth[$0].map { $0 + 1 } }.max() ?? 0
                if depth[task.id] != d { depth[task.id] = d; changed = true }
            }
            if !changed { break }
        }
        let columns = (depth.values.max() ?? 0) + 1
        var placed: [String: Double] = [:]
        var nodes: [Node] = []
        for column in 0..<columns {
            // Order a column by where its upstreams sit (fewer crossings), then by declaration.
            let members = dag.tasks.filter { depth[$0.id] == column }.sorted { a, b in
                let ka = Self.barycentre(a, placed), kb = Self.barycentre(b, placed)
                return ka != kb ? ka < kb : order[a.id]! < order[b.id]!
            }
            for (row, task) in members.enumerated() {
                placed[task.id] = Double(row)
                nodes.append(Node(id: task.id, column: column, row: row))
            }
        }
        self.nodes = nodes
        edges = dag.tasks.flatMap { task in task.upstream.filter { order[$0] != nil }.map { (from: $0, to: task.id) } }
    }

    private static func barycentre(_ task: TaskSpec, _ placed: [String: Double]) -> Double {
        let rows = task.upstream.compactMap { placed[$0] }
        return rows.isEmpty ? 0 : rows.reduce(0, +) / Double(rows.count)
    }

    /// The SVG; `states` colours and labels each task (nil: the spec alone), `link` makes a box a link.
    func svg(states: [String: (state: String, detail: String)], link: (String) -> String?) -> HTML {
        let boxWidth = Double(max(150, (nodes.map(\.id.count).max() ?? 10) * 7 + 28))
        let boxHeight = 42.0, columnGap = 64.0, rowGap = 18.0, margin = 12.0
        let rows = (nodes.map(\.row).max() ?? 0) + 1
        let columns = (nodes.map(\.column).max() ?? 0) + 1
        let width = margin * 2 + Double(columns) * boxWidth + Double(columns - 1) * columnGap
        let height = margin * 2 + Double(rows) * boxHeight + Double(rows - 1) * rowGap
        func origin(_ node: Node) -> (x: Double, y: Double) {
            (margin + Double(node.column) * (boxWidth + columnGap), margin + Double(node.row) * (boxHeight + rowGap))
        }
        let byID = Dictionary(nodes.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var out: HTML = """
            <svg class="chart graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(width) \(height)" width="\(width)" height="\(height)" role="group" aria-label="Task graph">
            <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#8a96a6"/></marker></defs>
            """
        for edge in edges {
            guard let a = byID[edge.from], let b = byID[edge.to] else { continue }
            let (ax, ay) = origin(a), (bx, by) = origin(b)
            let x1 = ax + boxWidth, y1 = ay + boxHeight / 2, x2 = bx - 2, y2 = by + boxHeight / 2
            let mid = (x1 + x2) / 2
            out += "<path class=\"edge\" d=\"M \(x1) \(y1) C \(mid) \(y1), \(mid) \(y2), \(x2) \(y2)\" marker-end=\"url(#arrow)\"/>"
        }
        for node in nodes {
            let (x, y) = origin(node)
            let entry = states[node.id]
            let style = StateStyle(entry?.state ?? "none")
            let stateLine: HTML = entry.map { e -> HTML in "\(style.glyph) \(style.label)\(e.detail.isEmpty ? "" : " · ")\(e.detail)" } ?? "no run"
            let box: HTML = """
                <g class="node \(style.cssClass)"><title>\(node.id): \(entry.map { StateStyle($0.state).label } ?? "not in this run")</title>
                <rect class="fill-\(entry?.state ?? "none")" x="\(x)" y="\(y)" width="\(boxWidth)" height="\(boxHeight)" rx="6"/>
                <text x="\(x + 10)" y="\(y + 17)" font-weight="600">\(node.id)</text>
                <text x="\(x + 10)" y="\(y + 33)">\(stateLine)</text></g>
                """
            if let href = link(node.id) {
                out += "<a href=\"\(href)\" aria-label=\"\(node.id): \(entry.map { StateStyle($0.state).label } ?? "not in this run")\">\(box)</a>"
            } else {
                out += box
            }
        }
        out += "</svg>"
        return out
    }
}
