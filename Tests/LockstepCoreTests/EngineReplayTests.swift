import Foundation
import LockstepTestSupport
import Testing

@testable import LockstepCore

/// `Engine.replay` hands finished runs over and forgets them as it goes; the runs it ends with must be
/// the ones a replay holding everything ends with, over the property test's random interleavings with
/// duplicates and stale repeats (a request repeated after its run was handed over among them).
@Suite struct EngineReplayTests {
    let property = EnginePropertyTests()

    /// Runs by id with the arrival order cleared (it differs between interleavings by design).
    func normalized(_ runs: some Sequence<DagRun>) -> [RunID: DagRun] {
        var byID: [RunID: DagRun] = [:]
        for var run in runs {
            run.sequence = 0
            byID[run.id] = run
        }
        return byID
    }

    /// `rounds` random deliveries of the property test's history (duplicates and stale repeats
    /// among them), from `seed`.
    func randomDeliveries(seed: UInt64, rounds: Int) -> [[(EngineEvent, Date)]] {
        let history = property.recordHistory()
        var rng = SplitMix64(seed: seed)
        return (0..<rounds).map { _ in EnginePropertyTests.randomDelivery(of: history, using: &rng) }
    }

    @Test(arguments: [1, 2, 1024])
    func forgettingWhileReplayingEndsWithTheSameRuns(forgetAfter: Int) {
        let engine = Engine(dags: property.dags, config: .empty)
        for (round, delivery) in randomDeliveries(seed: 0x4E91 + UInt64(forgetAfter), rounds: 100).enumerated() {
            var merged = delivery
            // Every other round ends with each run's request again, long after the runs finished.
            if round.isMultiple(of: 2) { merged += merged.filter { $0.0.requestedRunID != nil } }

            var holding = EngineState()
            for (event, at) in merged { _ = engine.apply(event, to: &holding, now: at) }
            let outcome = engine.replay(merged, forgetAfter: forgetAfter)

            #expect(outcome.events == merged.count)
            #expect(outcome.state.finishedRunsHeld == 0)
            #expect(outcome.finished.count == 3 && Set(outcome.finished.map(\.id)).count == 3)
            #expect(normalized(outcome.allRuns) == normalized(holding.runs.values))
            if normalized(outcome.allRuns) != normalized(holding.runs.values) { return }
        }
    }

    /// Handed over in batches as they leave, the finished runs are the ones the outcome would hold, in
    /// the same order, and the outcome then holds none.
    @Test(arguments: [1, 2, 1024])
    func finishedRunsHandedOverInBatchesAreTheOnesTheOutcomeWouldHold(forgetAfter: Int) {
        let engine = Engine(dags: property.dags, config: .empty)
        for merged in randomDeliveries(seed: 0x7A3 + UInt64(forgetAfter), rounds: 50) {
            let kept = engine.replay(merged, forgetAfter: forgetAfter)
            var batches: [[DagRun]] = []
            let handed = engine.replay(merged, forgetAfter: forgetAfter) { batches.append($0) }
            #expect(handed.finished.isEmpty && !batches.isEmpty && batches.allSatisfy { !$0.isEmpty })
            #expect(batches.flatMap { $0 } == kept.finished)
            #expect(handed.state == kept.state && handed.timers == kept.timers && handed.events == kept.events)
            if batches.flatMap({ $0 }) != kept.finished { return }
        }
    }

    @Test func theTimersArmedAtTheEndAreTheOnesStillArmed() {
        let engine = Engine(dags: [DagSpec(id: "slow", tasks: [TaskSpec(id: "t", operator: "noop", timeout: .seconds(30))])], config: .empty)
        let attempt = AttemptID(runID: "slow-1", taskID: "t", tryNumber: 1)
        let started = t0.addingTimeInterval(1)
        let inputs: [(EngineEvent, Date)] = [
            (.runRequested(RunRequest(runID: "slow-1", dagID: "slow", logicalDate: t0)), t0),
            (.taskStarted(attempt, worker: "w"), started),
        ]
        let running = engine.replay(inputs)
        #expect(running.state.runs["slow-1"]?.tasks["t"]?.state == .running && running.finished.isEmpty)
        #expect(running.timers.count == 1)
        #expect(running.timers.first.map { $0.key.attempt == attempt && $0.value == started.addingTimeInterval(30) } == true)
        // Once the attempt has finished, nothing is left armed and the run was handed over.
        let done = engine.replay(inputs + [(.taskSucceeded(attempt, TaskSuccess()), started.addingTimeInterval(2))])
        #expect(done.timers.isEmpty && done.finished.map(\.id) == ["slow-1"] && done.state.runs.isEmpty)
    }
}
