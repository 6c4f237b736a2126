import Foundation
import Testing

@testable import LockstepCore

/// `dispatch_window`: at most N attempts dispatched and not started, each free place going to the DAG
/// with the fewest in the window, so one DAG's backlog cannot queue ahead of another DAG's tasks.
@Suite struct DispatchWindowTests {
    /// A backfill-shaped DAG (two parallel tasks, then one) and a one-task probe.
    let dags = [
        dag("backfill", maxActiveRuns: 64, tasks: [task("a"), task("b"), task("c", after: ["a", "b"])]),
        dag("probe", tasks: [task("p")]),
    ]

    func dispatchedTasks(_ h: EngineHarness) -> [String] { h.dispatched.map { "\($0.attempt.runID)/\($0.attempt.taskID)" } }

    @Test func withoutAWindowEveryReadyTaskIsDispatchedAtOnce() {
        var h = EngineHarness(dags)
        for i in 0..<10 { h.trigger("backfill", run: "r\(i)") }
        #expect(h.allDispatched.count == 20)
        #expect(h.state.indexProblems() == [])
    }

    @Test func theWindowHoldsReadyTasksBackInArrivalAndDeclarationOrder() {
        var h = EngineHarness(dags, dispatchWindow: 3)
        for i in 0..<4 { h.trigger("backfill", run: "r\(i)") }
        #expect(h.allDispatched.map { "\($0.attempt.runID)/\($0.attempt.taskID)" } == ["r0/a", "r0/b", "r1/a"])
        #expect(h.task("r1", "b").state == .pending)
        #expect(h.task("r1", "b").waitingFor == "a place in the dispatch window (dispatch_window)")
        // A start frees a place: the next in line, not a later run's task.
        h.send(.taskStarted(attempt("r0", "a"), worker: "w"))
        #expect(dispatchedTasks(h) == ["r1/b"])
        #expect(h.task("r1", "b").waitingFor == nil)
        // A result without a start frees one too (the attempt leaves `scheduled`).
        h.send(.taskSucceeded(attempt("r0", "b"), TaskSuccess(output: .emptyObject)))
        #expect(dispatchedTasks(h) == ["r2/a"])
        #expect(h.state.indexProblems() == [])
    }

    @Test func aDagArrivingDuringABacklogTakesTheNextFreePlace() {
        var h = EngineHarness(dags, dispatchWindow: 4)
        for i in 0..<50 { h.trigger("backfill", run: "r\(i)") }
        #expect(h.allDispatched.count == 4)
        h.trigger("probe", run: "probe-1")
        #expect(h.dispatched.isEmpty)  // the window is full
        h.send(.taskStarted(attempt("r0", "a"), worker: "w"))
        #expect(dispatchedTasks(h) == ["probe-1/p"])  // ahead of the 96 backfill tasks waiting
        // Then the backfill again: the probe's DAG has one attempt in the window, the backfill three.
        h.send(.taskStarted(attempt("probe-1", "p"), worker: "w"))
        #expect(dispatchedTasks(h) == ["r2/a"])
        #expect(h.state.indexProblems() == [])
    }

    @Test func placesAreSharedByTheDagsWithTheFewestInTheWindow() {
        var h = EngineHarness(dags, dispatchWindow: 4)
        for i in 0..<20 { h.trigger("backfill", run: "r\(i)") }
        for i in 0..<5 { h.trigger("probe", run: "p\(i)") }
        // Starting the dispatched attempts one by one: each freed place goes to the DAG with fewer
        // attempts in the window, the probe's, until all its runs are dispatched.
        var order: [String] = []
        for _ in 0..<8 {
            let inWindow = h.state.runs.values.flatMap { run in
                run.tasks.values.filter { $0.state == .scheduled }.map { attempt(run.id, $0.taskID) }
            }.sorted { ($0.runID, $0.taskID) < ($1.runID, $1.taskID) }
            h.send(.taskStarted(inWindow[0], worker: "w"))
            order += h.dispatched.map(\.dagID)
        }
        #expect(order.filter { $0 == "probe" }.count == 5)  // every probe run got its place among the first eight
        #expect(h.state.indexProblems() == [])
    }

    @Test func aCancelledRunsWaitingTasksLeaveTheLine() {
        var h = EngineHarness(dags, dispatchWindow: 2)
        for i in 0..<3 { h.trigger("backfill", run: "r\(i)") }
        h.send(.runCancelled("r1", reason: "by hand"))
        h.send(.taskStarted(attempt("r0", "a"), worker: "w"))
        #expect(dispatchedTasks(h) == ["r2/a"])  // r1's tasks are skipped, not dispatched
        #expect(h.state.indexProblems() == [])
    }

    /// The coordinator reloads its state from the store (`reindex`); the line is rebuilt by the sweep,
    /// so the next events dispatch the same tasks as without the reload.
    @Test func aReloadedStateDispatchesWhatTheContinuousOneDoes() {
        var continuous = EngineHarness(dags, dispatchWindow: 3)
        for i in 0..<6 { continuous.trigger("backfill", run: "r\(i)") }
        continuous.trigger("probe", run: "probe-1")
        var reloaded = continuous
        reloaded.state.reindex()
        let events: [EngineEvent] = [
            .taskStarted(attempt("r0", "a"), worker: "w"), .taskStarted(attempt("r0", "b"), worker: "w"),
            .taskSucceeded(attempt("r0", "a"), TaskSuccess(output: .emptyObject)),
            .taskStarted(attempt("probe-1", "p"), worker: "w"),
            .taskSucceeded(attempt("r0", "b"), TaskSuccess(output: .emptyObject)),
        ]
        for event in events {
            continuous.send(event)
            reloaded.send(event)
            #expect(dispatchedTasks(reloaded) == dispatchedTasks(continuous))
            #expect(reloaded.state.indexProblems() == [])
        }
        #expect(reloaded.state == continuous.state)
    }

    /// `lockstep rebuild` replays results in an order the coordinator may not have seen: a result for a
    /// try still waiting in the window counts (it was dispatched by the live coordinator) instead of
    /// being dropped as stale.
    @Test func aResultForATryStillInTheLineIsTakenAsDispatched() {
        var h = EngineHarness(dags, dispatchWindow: 1)
        h.trigger("backfill", run: "r0")
        h.trigger("backfill", run: "r1")
        #expect(h.task("r1", "a").state == .pending)
        h.send(.taskStarted(attempt("r1", "a"), worker: "w"))
        #expect(h.task("r1", "a").state == .running)
        h.send(.taskSucceeded(attempt("r1", "a"), TaskSuccess(output: .emptyObject)))
        #expect(h.task("r1", "a").state == .succeeded)
        // A start for a try that is not the next one is still stale.
        h.send(.taskStarted(attempt("r1", "b", 2), worker: "w"))
        #expect(h.task("r1", "b").state == .pending)
        #expect(h.state.indexProblems() == [])
    }

    @Test func pooledTasksWaitForTheirPoolNotTheWindowButCountInIt() {
        let pooled = [dag("pooled", tasks: [task("x", pool: "db"), task("y", pool: "db")]), dag("plain", tasks: [task("z")])]
        var h = EngineHarness(pooled, pools: ["db": 2], dispatchWindow: 1)
        h.trigger("pooled", run: "q0")
        #expect(h.dispatched.count == 2)  // both pool slots, though the window holds one
        h.trigger("plain", run: "z0")
        #expect(h.dispatched.isEmpty)
        h.send(.taskStarted(attempt("q0", "x"), worker: "w"))
        #expect(h.dispatched.isEmpty)  // one pooled attempt still dispatched and not started
        h.send(.taskStarted(attempt("q0", "y"), worker: "w"))
        #expect(dispatchedTasks(h) == ["z0/z"])
        #expect(h.state.indexProblems() == [])
    }

    @Test func theWindowComesFromTheDeploymentFile() throws {
        #expect(try ConfigLoader.parseConfig("dispatch_window: 8\n", file: "lockstep.yaml").dispatchWindow == 8)
        #expect(try ConfigLoader.parseConfig("pools: {}\n", file: "lockstep.yaml").dispatchWindow == nil)
        for bad in ["dispatch_window: 0\n", "dispatch_window: lots\n"] {
            do {
                _ = try ConfigLoader.parseConfig(bad, file: "lockstep.yaml")
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.keyPath == "dispatch_window")
                #expect(error.description.contains("lockstep.yaml"))
            }
        }
    }
}
