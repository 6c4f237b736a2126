import Foundation
import LockstepCore

/// A run's tasks on a time axis: a row per task, for each try a grey bar while it waited (scheduled →
/// started: the pool or a worker) and a bar in its outcome's colour while it ran, labelled with the
/// try number and duration, so the reading never depends on the colour.
struct GanttChart {
    struct Bar: Equatable {
        var tryNumber: Int
        var scheduled: Date
        var started: Date?
        var finished: Date?
        /// `succeeded`, `failed`, `running`, …
        var state: String
    }

    struct Row: Equatable {
        var taskID: String
        var bars: [Bar]
    }

    let rows: [Row]
    let start: Date
    let end: Date

    /// The run's tasks in `order` (the DAG's declaration order); `now` ends the bars still running.
    init(_ run: DagRun, order: [String], now: Date) {
        let ids = order.filter { run.tasks[$0] != nil } + run.tasks.keys.filter { !order.contains($0) }.sorted()
        rows = ids.compactMap { id -> Row? in
            guard let task = run.tasks[id] else { return nil }
            let bars = task.attempts.map { a -> Bar in
                let state: String = switch a.outcome {
                case .succeeded?: "succeeded"
                case .failed?, .timedOut?: "failed"
                case .cancelled?: "cancelled"
                case .skipped?: "skipped"
                case nil: a.startedAt == nil ? "scheduled" : "running"
                }
                return Bar(tryNumber: a.tryNumber, scheduled: a.scheduledAt, started: a.startedAt, finished: a.finishedAt, state: state)
            }
            return Row(taskID: id, bars: bars)
        }
        let times = rows.flatMap { $0.bars.flatMap { [$0.scheduled, $0.started, $0.finished].compactMap { $0 } } }
        start = min(times.min() ?? run.startedAt ?? run.requestedAt, run.startedAt ?? .distantFuture)
        let running = rows.contains { $0.bars.contains { $0.finished == nil } }
        end = max(times.max() ?? start, running ? now : start, run.finishedAt ?? start, start.addingTimeInterval(0.001))
    }

    func svg() -> HTML {
        let labelWidth = Double(max(120, (rows.map(\.taskID.count).max() ?? 10) * 7 + 16))
        let plotWidth = 760.0, rowHeight = 26.0, top = 24.0, margin = 8.0
        let width = labelWidth + plotWidth + 90
        let height = top + Double(max(1, rows.count)) * rowHeight + margin
        let span = end.timeIntervalSince(start)
        func x(_ date: Date) -> Double { labelWidth + plotWidth * max(0, date.timeIntervalSince(start)) / span }
        var out: HTML = "<svg class=\"chart gantt\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(width) \(height)\" width=\"\(width)\" height=\"\(height)\" role=\"img\" aria-label=\"Gantt chart of the run's tasks\">"
        for i in 0...4 {
            let t = span * Double(i) / 4
            let gx = labelWidth + plotWidth * Double(i) / 4
            out += "<line class=\"gridline\" x1=\"\(gx)\" y1=\"\(top - 6)\" x2=\"\(gx)\" y2=\"\(height - margin)\"/>"
            out += "<text class=\"muted\" x=\"\(gx)\" y=\"\(top - 10)\" text-anchor=\"middle\">+\(Layout.durationText(t))</text>"
        }
        for (i, row) in rows.enumerated() {
            let y = top + Double(i) * rowHeight
            out += "<text x=\"\(labelWidth - 8)\" y=\"\(y + 17)\" text-anchor=\"end\">\(row.taskID)</text>"
            for bar in row.bars {
                let runStart = bar.started ?? bar.finished ?? end
                let waitEnd = x(runStart)
                let x0 = x(bar.scheduled)
                if waitEnd - x0 > 0.5 {
                    out += "<rect class=\"queued-bar\" x=\"\(x0)\" y=\"\(y + 8)\" width=\"\(waitEnd - x0)\" height=\"10\"><title>try \(bar.tryNumber) waited \(Layout.durationText(runStart.timeIntervalSince(bar.scheduled)))</title></rect>"
                }
                if let started = bar.started {
                    let finish = bar.finished ?? end
                    let w = max(2, x(finish) - x(started))
                    let seconds = finish.timeIntervalSince(started)
                    let style = StateStyle(bar.state)
                    out += "<rect class=\"fill-\(bar.state)\" x=\"\(x(started))\" y=\"\(y + 4)\" width=\"\(w)\" height=\"18\" rx=\"2\"><title>\(row.taskID) try \(bar.tryNumber): \(style.label), \(Layout.durationText(seconds))</title></rect>"
                    out += "<text x=\"\(x(started) + w + 4)\" y=\"\(y + 17)\">\(style.glyph) #\(bar.tryNumber) \(Layout.durationText(seconds))</text>"
                }
            }
        }
        out += "</svg>"
        return out
    }
}
