import Foundation
import LockstepCore
@testable import LockstepServices
import LockstepTestSupport
import Testing

/// A rebuild's store writes the finished runs while the replay goes on (`StateStore.replaceEngine(from:)`
/// fed by a `RunHandOver`): the store ends exactly as `replaceEngine(state:finished:timers:)` of the
/// whole outcome leaves it, and a replay abandoned half-way replaces nothing. SQLite and PostgreSQL.
@Suite struct RunHandOverTests {
    typealias Backend = TaskLogStoreTests.Backend
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let dag = DagSpec(id: "handed", maxActiveRuns: 30, tasks: [TaskSpec(id: "t", operator: "noop", timeout: .seconds(60))])

    /// 40 runs: 25 succeed, 5 are running (a timeout timer armed each), 10 wait for max_active_runs.
    static var inputs: [(EngineEvent, Date)] {
        var inputs: [(EngineEvent, Date)] = []
        for i in 0..<40 {
            let at = t0.addingTimeInterval(Double(i))
            inputs.append((.runRequested(RunRequest(runID: "handed-\(i)", dagID: dag.id, logicalDate: at)), at))
        }
        for i in 0..<30 {
            let attempt = AttemptID(runID: "handed-\(i)", taskID: "t", tryNumber: 1)
            let at = t0.addingTimeInterval(100 + Double(i))
            inputs.append((.taskStarted(attempt, worker: "w"), at))
            if i < 25 { inputs.append((.taskSucceeded(attempt, TaskSuccess()), at.addingTimeInterval(0.5))) }
        }
        return inputs
    }

    @Test(arguments: Backend.allCases)
    func runsWrittenAsTheReplayHandsThemOverLeaveTheStoreAsTheWholeOutcomeDoes(_ backend: Backend) async throws {
        let engine = Engine(dags: [Self.dag], config: .empty)
        let whole = engine.replay(Self.inputs, forgetAfter: 4)
        #expect(whole.finished.count > 4 && whole.state.runs.count == 15 && whole.timers.count == 5)

        let (expected, cleanupExpected) = try await TaskLogStoreTests.open(backend)
        defer { cleanupExpected() }
        try await expected.replaceEngine(state: whole.state, finished: whole.finished, timers: whole.timers)

        let (streamed, cleanupStreamed) = try await TaskLogStoreTests.open(backend)
        defer { cleanupStreamed() }
        let handOver = RunHandOver()
        async let written = streamed.replaceEngine(from: handOver)
        var batches = 0
        let outcome = engine.replay(Self.inputs, forgetAfter: 4) { batches += 1; handOver.push(.finished($0)) }
        handOver.push(.end(outcome.state, outcome.timers))
        #expect(try await written == 40)
        #expect(batches > 1, "the finished runs left in several batches")

        #expect(try await streamed.runs(limit: 100) == expected.runs(limit: 100))
        let (streamedState, streamedTimers) = try await streamed.loadEngine()
        let (expectedState, expectedTimers) = try await expected.loadEngine()
        #expect(streamedState == expectedState && streamedTimers == expectedTimers)
        await expected.close()
        await streamed.close()
    }

    @Test(arguments: Backend.allCases)
    func aReplayAbandonedHalfWayReplacesNothing(_ backend: Backend) async throws {
        let engine = Engine(dags: [Self.dag], config: .empty)
        let (store, cleanup) = try await TaskLogStoreTests.open(backend)
        defer { cleanup() }
        let before = engine.replay(Self.inputs.prefix(40))  // 40 requests, 30 of them dispatched
        try await store.replaceEngine(state: before.state, timers: before.timers)
        let stored = try await store.runs(limit: 100)

        let handOver = RunHandOver()
        let writing = Task { try await store.replaceEngine(from: handOver) }
        _ = engine.replay(Self.inputs, forgetAfter: 4) { handOver.push(.finished($0)) }
        handOver.push(.abandoned)
        await #expect(throws: CancellationError.self) { try await writing.value }
        #expect(try await store.runs(limit: 100) == stored)
        await store.close()
    }
}
