import Foundation
import LockstepCore
import Testing

@testable import LockstepHTTP

/// The event-history grouping and the SVG charts' layouts.
@Suite struct UIChartTests {
    static let t0 = Date(timeIntervalSince1970: 1_758_160_800)

    static func item(_ offset: Int64, _ type: String, task: String? = nil, try tryNumber: Int? = nil, at ms: Int = 0, topic: String = "t",
                     kind: String? = nil) -> EventHistory.Item {
        var data: [String: JSONValue] = ["run_id": "r"]
        if let kind { data["kind"] = .string(kind) }
        if let task { data["task_id"] = .string(task) }
        if let tryNumber { data["try_number"] = .int(Int64(tryNumber)) }
        return EventHistory.Item(topic: topic, partition: 0, offset: offset, time: t0.addingTimeInterval(Double(ms) / 1000), id: "e\(offset)",
                                 type: type, source: "lockstep/x/1", data: .object(data), traceparent: nil)
    }

    @Test func aTryIsOneRowFromItsThreeTopicsAndRunEventsJoinTheirNeighbours() {
        let items = [
            Self.item(0, "lockstep.run.requested", at: 0),
            Self.item(1, "lockstep.run.queued", at: 1),
            Self.item(2, "lockstep.task.queued", task: "a", at: 2),
            // Same millisecond on two topics: the row still reads queued → scheduled → dispatched.
            Self.item(3, "lockstep.task.dispatched", task: "a", try: 1, at: 3, topic: "commands"),
            Self.item(4, "lockstep.task.scheduled", task: "a", try: 1, at: 3, topic: "events"),
            Self.item(5, "lockstep.attempt.started", task: "a", try: 1, at: 5),
            Self.item(6, "lockstep.task.started", task: "a", try: 1, at: 5),
            Self.item(7, "lockstep.attempt.failed", task: "a", try: 1, at: 9),
            Self.item(8, "lockstep.task.up_for_retry", task: "a", try: 1, at: 9),
            Self.item(9, "lockstep.timer.fired", task: "a", try: 1, at: 20, kind: "retry"),
            Self.item(10, "lockstep.task.dispatched", task: "a", try: 2, at: 21),
            Self.item(11, "lockstep.attempt.succeeded", task: "a", try: 2, at: 30),
            Self.item(12, "lockstep.ops.run_cancel_requested", at: 31),
            Self.item(13, "lockstep.task.queued", task: "never", at: 32),
            Self.item(14, "lockstep.run.succeeded", at: 40),
        ]
        let groups = EventHistory.group(items)
        #expect(groups.map(\.kind) == [.run, .task(id: "a", tryNumber: 1), .task(id: "a", tryNumber: 2), .ops, .task(id: "never", tryNumber: nil), .run])
        #expect(groups[0].steps == ["requested", "queued"])
        #expect(groups[1].steps == ["queued", "scheduled", "dispatched", "started", "failed", "up for retry", "timer retry"])
        #expect(groups[1].items.count == 8)
        #expect(groups[2].steps == ["dispatched", "succeeded"] && groups[2].outcome == "succeeded")
        #expect(groups[3].steps == ["run cancel requested"])
        #expect(groups[4].outcome == "queued")
        #expect(groups.flatMap(\.items).count == items.count, "every event is in exactly one row")
    }

    @Test func theTraceIDComesFromTraceparent() {
        var item = Self.item(0, "lockstep.run.requested")
        #expect(EventHistory.traceID([item]) == nil)
        item.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        #expect(EventHistory.traceID([item]) == "4bf92f3577b34da6a3ce929d0e0e4736")
        item.traceparent = "garbage"
        #expect(EventHistory.traceID([item]) == nil)
    }

    @Test func theGraphPutsEachTaskOneColumnRightOfItsDeepestUpstream() {
        // Declared out of order: d depends on b and c, which depend on a.
        let dag = DagSpec(id: "g", tasks: [
            TaskSpec(id: "d", operator: "noop", upstream: ["b", "c"]), TaskSpec(id: "c", operator: "noop", upstream: ["a"]),
            TaskSpec(id: "a", operator: "noop"), TaskSpec(id: "b", operator: "noop", upstream: ["a"]),
            TaskSpec(id: "e", operator: "noop", upstream: ["a", "d"]),
        ])
        let graph = TaskGraph(dag)
        let column = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.id, $0.column) })
        #expect(column == ["a": 0, "b": 1, "c": 1, "d": 2, "e": 3])
        #expect(graph.edges.count == 6)
        let svg = graph.svg(states: ["a": ("succeeded", ""), "b": ("failed", "try 2")]) { "/t/\($0)" }.rendered
        #expect(svg.contains("aria-label=\"a: succeeded\"") && svg.contains("✗ failed · try 2") && svg.contains("not in this run"))
        #expect(!svg.contains("style="), "no inline style: the CSP forbids it")
    }

    @Test func theDurationAxisEndsOnARoundNumber() {
        #expect(DurationChart.niceCeiling(0.37) == 0.5)
        #expect(DurationChart.niceCeiling(7) == 10)
        #expect(DurationChart.niceCeiling(12) == 20)
        #expect(DurationChart.niceCeiling(0) == 1)
        let chart = DurationChart(runLabels: ["a", "b", "c"], series: [.init(name: "t1", values: [1, nil, 3]), .init(name: "t2", values: [2, 2, 2])])
        let svg = chart.svg().rendered
        // A gap where the task did not run: the line is lifted, not drawn through zero.
        #expect(svg.components(separatedBy: "M ").count - 1 >= 3)
        #expect(svg.contains("<title>t1, c: 3 s</title>"))
    }

    @Test func ganttBarsShowWaitingAndRunningForEachTry() throws {
        let json = """
            {"id":"r","dagID":"d","logicalDate":0,"conf":{},"trigger":{"manual":{}},"state":"running","sequence":1,"requestedAt":0,
             "tasks":{"a":{"taskID":"a","state":"running","tryNumber":2,"maxTries":3,"warnings":[],
               "attempts":[{"tryNumber":1,"scheduledAt":0,"startedAt":2,"finishedAt":5,"outcome":"failed"},
                           {"tryNumber":2,"scheduledAt":10,"startedAt":11}]}}}
            """
        let run = try JSONDecoder().decode(DagRun.self, from: Data(json.utf8))
        let chart = GanttChart(run, order: ["a"], now: Date(timeIntervalSinceReferenceDate: 20))
        #expect(chart.rows.first?.bars.map(\.state) == ["failed", "running"])
        #expect(chart.end == Date(timeIntervalSinceReferenceDate: 20))
        let svg = chart.svg().rendered
        #expect(svg.contains("try 1 waited 2 s") && svg.contains("#1 3 s") && svg.contains("#2 9 s"))
    }
}
