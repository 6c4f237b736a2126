import Foundation
import LockstepCore

/// A run's event history grouped the way Temporal's compact view groups it: the events of one task
/// try (queued → scheduled → dispatched → started → succeeded, from three topics) become one row,
/// and consecutive run-level events another; each row opens onto its events. Pure: items in, groups
/// out, in the order of their first event.
enum EventHistory {
    struct Item: Sendable, Equatable {
        var topic: String
        var partition: Int32
        var offset: Int64
        var time: Date
        var id: String
        var type: String
        var source: String
        var data: JSONValue?
        var traceparent: String?

        var taskID: String? { data?["task_id"]?.stringValue }
        var tryNumber: Int? { data?["try_number"]?.intValue.map(Int.init) }
    }

    struct Group: Sendable, Equatable {
        enum Kind: Sendable, Equatable {
            case task(id: String, tryNumber: Int?)
            case run
            case ops
        }
        var kind: Kind
        var items: [Item]

        /// The steps in order, repeats folded: `queued → scheduled → dispatched → started → succeeded`.
        var steps: [String] {
            var out: [String] = []
            for item in items {
                let step = EventHistory.step(item)
                if out.last != step { out.append(step) }
            }
            return out
        }

        /// The state the row ends in, for its badge.
        var outcome: String {
            let last = steps.last ?? ""
            switch last {
            case "succeeded", "failed", "cancelled", "skipped", "running", "queued", "scheduled", "upstream failed", "up for retry":
                return last.replacingOccurrences(of: " ", with: "_")
            case "started": return "running"
            case "dispatched", "requested": return "scheduled"
            case "timed out": return "failed"
            default: return "none"
            }
        }

        var start: Date { items.first?.time ?? .distantPast }
        var end: Date { items.last?.time ?? .distantPast }
    }

    /// A short name for an event's step.
    static func step(_ item: Item) -> String {
        let type = item.type
        if type == "lockstep.timer.fired" { return "timer" + (item.data?["kind"]?.stringValue.map { " " + $0 } ?? "") }
        if type == "lockstep.task.dispatched" { return "dispatched" }
        if type == "lockstep.run.requested" { return "requested" }
        if type.hasPrefix("lockstep.ops.") { return String(type.dropFirst("lockstep.ops.".count)).replacingOccurrences(of: "_", with: " ") }
        for prefix in ["lockstep.attempt.", "lockstep.task.", "lockstep.run.", "lockstep."] where type.hasPrefix(prefix) {
            return String(type.dropFirst(prefix.count)).replacingOccurrences(of: "_", with: " ")
        }
        return type
    }

    static func group(_ items: [Item]) -> [Group] {
        var groups: [Group] = []
        var taskGroup: [String: Int] = [:]          // "task#try" → index in groups
        var waiting: [String: [Item]] = [:]         // a task's events before its try is known (task.queued)
        for item in items {
            if item.type.hasPrefix("lockstep.ops.") {
                groups.append(Group(kind: .ops, items: [item]))
                continue
            }
            guard let task = item.taskID else {
                // Run-level: join the previous row if it is run-level too.
                if let last = groups.indices.last, groups[last].kind == .run { groups[last].items.append(item) } else {
                    groups.append(Group(kind: .run, items: [item]))
                }
                continue
            }
            guard let tryNumber = item.tryNumber else {
                waiting[task, default: []].append(item)
                continue
            }
            let key = "\(task)#\(tryNumber)"
            if let index = taskGroup[key] {
                groups[index].items.append(item)
            } else {
                taskGroup[key] = groups.count
                groups.append(Group(kind: .task(id: task, tryNumber: tryNumber), items: (waiting.removeValue(forKey: task) ?? []) + [item]))
            }
        }
        // Events of one step often share a millisecond across topics; within a row, ties follow the
        // order the steps happen in (queued before dispatched before started).
        for i in groups.indices {
            groups[i].items = groups[i].items.enumerated().sorted { a, b in
                a.element.time != b.element.time ? a.element.time < b.element.time
                    : (rank(a.element), a.offset) < (rank(b.element), b.offset)
            }.map(\.element)
        }
        // A task whose try never began (still queued, or skipped): its own row.
        for (task, items) in waiting.sorted(by: { $0.key < $1.key }) {
            groups.append(Group(kind: .task(id: task, tryNumber: nil), items: items))
        }
        return groups.sorted { $0.start < $1.start }
    }

    private static func rank(_ item: Item) -> Int {
        let order = ["requested", "queued", "scheduled", "dispatched", "started", "succeeded", "failed", "timed out", "up for retry"]
        return order.firstIndex(of: step(item)) ?? order.count
    }

    /// The W3C trace id (`traceparent` is `00-<trace id>-<span id>-<flags>`), if the events carry one.
    static func traceID(_ items: [Item]) -> String? {
        for item in items {
            guard let parts = item.traceparent?.split(separator: "-"), parts.count == 4, parts[1].count == 32 else { continue }
            return String(parts[1])
        }
        return nil
    }
}

extension EventHistory.Item {
    init(_ entry: RunHistory.Entry) {
        self.init(
            topic: entry.record.position.topic, partition: entry.record.position.partition, offset: entry.record.position.offset,
            time: entry.record.timestamp, id: entry.event.id, type: entry.event.type, source: entry.event.source, data: entry.event.data,
            traceparent: entry.event.traceparent)
    }
}

/// The grouped history as HTML: one `<details>` per row.
struct EventHistoryView {
    let entries: [EventHistory.Item]

    var traceLine: HTML {
        guard let trace = EventHistory.traceID(entries) else {
            return "<p class=\"muted\" id=\"trace\">No trace context (<code>traceparent</code>) on this run's events.</p>"
        }
        return "<p id=\"trace\">Trace id <code>\(trace)</code></p>"
    }

    func render() -> HTML {
        let groups = EventHistory.group(entries)
        guard !groups.isEmpty else { return "<p class=\"muted\">No events found on the topics for this run (they may have been compacted away).</p>" }
        let rows = groups.map { group -> HTML in
            let label: HTML = switch group.kind {
            case .task(let id, let n): "<strong>\(id)</strong>\(n.map { " #\($0)" } ?? "")"
            case .run: "<strong>run</strong>"
            case .ops: "<strong>ops</strong>\(group.items.first?.data?["actor"]?.stringValue.map { " by \($0)" })"
            }
            let style = StateStyle(group.outcome)
            let span = group.end.timeIntervalSince(group.start)
            let events = group.items.map { item -> HTML in
                """
                <tr><td class="nowrap">\(Layout.time(item.time))</td><td><code>\(item.type)</code></td>
                <td class="nowrap mono">\(item.topic)[\(item.partition)]@\(item.offset)</td><td class="mono">\(item.source)</td>
                <td>\(item.data.map { Layout.json($0) })</td></tr>
                """
            }
            return """
                <details class="event-group" data-key="\(group.items.first?.id ?? "")"><summary><span class="sq \(style.cssClass)" aria-hidden="true">\(style.glyph)</span>\(label)
                <span class="chain">\(group.steps.joined(separator: " → "))</span>
                <span class="when">\(Layout.time(group.start))\(span > 0 ? " · \(Layout.durationText(span))" : "") · \(group.items.count) event\(group.items.count == 1 ? "" : "s")</span></summary>
                <table class="list"><thead><tr><th scope="col">Time</th><th scope="col">Type</th><th scope="col">Position</th><th scope="col">Source</th><th scope="col">Data</th></tr></thead>
                <tbody>\(events)</tbody></table></details>
                """
        }
        return rows.joined()
    }
}
