import Foundation
import Testing

@testable import LockstepCore

/// `DagRun.canonicalJSON()` prints by hand what the store wrote through `JSONValueEncoder` and
/// `canonicalJSON()`: the same bytes for every run, and a stored property added to a type it prints
/// without a line there fails here (the counts below), not as a field silently left unstored.
@Suite struct DagRunCanonicalJSONTests {
    static func generic(_ run: DagRun) throws -> String { try JSONValueEncoder().encode(run).canonicalJSON() }

    @Test(arguments: 0..<3)
    func runsTheEngineLeavesPrintAsTheGenericEncoderPrintsThem(seed: UInt64) throws {
        let runs = JSONValueEncoderTests.engineState(seed: seed).runs.values
        #expect(runs.count > 10)
        for run in runs { #expect(run.canonicalJSON() == (try Self.generic(run)), "run \(run.id)") }
    }

    @Test func everyOptionalSetEveryTriggerAndKeysThatSortByBytesPrintTheSame() throws {
        var run = try #require(JSONValueEncoderTests.engineState(seed: 7).runs.values.first { $0.state == .failed })
        run.failure = "task \"b\" failed:\n\tline\u{1}"
        run.startedAt = Date(timeIntervalSinceReferenceDate: -5.5)
        run.finishedAt = Date(timeIntervalSinceReferenceDate: 1_234.000_001)
        run.logicalDate = Date(timeIntervalSinceReferenceDate: 0)
        run.requestedAt = Date(timeIntervalSinceReferenceDate: 1e9)
        run.conf = .object(["Z": .double(2.5), "a": .array([.null, .bool(true), .int(-3)]), "é": .string("/\\")])
        run.trace = TraceContext(traceID: "4bf92f3577b34da6a3ce929d0e0e4736", parentSpanID: "00f067aa0ba902b7", tracestate: "k=v")
        var task = TaskInstance(taskID: "Upper", maxTries: 3)
        task.state = .upForRetry
        task.tryNumber = 2
        task.output = .object(["rows": .int(3)])
        task.warnings = ["one", "two \"quoted\""]
        task.retryAt = Date(timeIntervalSinceReferenceDate: 86_400.25)
        task.waitingFor = "a slot in pool p"
        task.attempts = [
            TaskAttempt(tryNumber: 1, scheduledAt: Date(timeIntervalSinceReferenceDate: 10), startedAt: Date(timeIntervalSinceReferenceDate: 10.5),
                        finishedAt: Date(timeIntervalSinceReferenceDate: 11.125), worker: "w/1 \u{7}", outcome: .timedOut,
                        error: TaskFailure(message: "late\r\n", retryable: false, category: "timeout")),
            TaskAttempt(tryNumber: 2, scheduledAt: Date(timeIntervalSinceReferenceDate: 12)),
        ]
        for id in ["Upper", "upper", "é", "a\"b", "_"] {
            task.taskID = id
            run.tasks[id] = task
        }
        for trigger: RunTrigger in [.schedule, .manual, .backfill, .replay(of: "evt-1"), .upstream(dagID: "up", runID: "up/run\"1")] {
            run.trigger = trigger
            #expect(run.canonicalJSON() == (try Self.generic(run)), "trigger \(trigger)")
        }
        run.trace?.parentSpanID = nil
        run.trace?.tracestate = nil
        run.tasks["_"]?.output = nil
        #expect(run.canonicalJSON() == (try Self.generic(run)))
    }

    /// The stored properties `canonicalJSON()` prints for each type. A new one needs a line in
    /// `DagRun+CanonicalJSON.swift` (and a value in the test above), then its count here.
    @Test func theTypesItPrintsHaveTheStoredPropertiesItKnows() throws {
        let run = try #require(JSONValueEncoderTests.engineState(seed: 1).runs.values.first { !$0.tasks.isEmpty })
        let task = try #require(run.tasks.values.first)
        #expect(Mirror(reflecting: run).children.count == 13)
        #expect(Mirror(reflecting: task).children.count == 9)
        #expect(Mirror(reflecting: TaskAttempt(tryNumber: 1, scheduledAt: Date())).children.count == 7)
        #expect(Mirror(reflecting: TaskFailure(message: "m")).children.count == 3)
        #expect(Mirror(reflecting: TraceContext(traceID: "4bf92f3577b34da6a3ce929d0e0e4736")).children.count == 4)
    }
}
