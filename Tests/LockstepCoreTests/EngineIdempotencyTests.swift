import Foundation
import Testing

@testable import LockstepCore

@Suite struct EngineIdempotencyTests {
    let spec = dag("d", tasks: [task("a", retries: 1, delay: .seconds(60), timeout: .seconds(30)), task("b", after: ["a"])])

    @Test func aDuplicateTaskSucceededIsANoOp() {
        var h = EngineHarness([spec])
        h.trigger("d", run: "r")
        h.complete(attempt("r", "a"), output: ["n": 1])
        let before = h.state
        h.send(.taskSucceeded(attempt("r", "a"), TaskSuccess(output: ["n": 2])))
        #expect(h.state == before)
        #expect(h.last.isEmpty)
    }

    @Test func aDuplicateRunRequestIsANoOp() {
        var h = EngineHarness([spec])
        h.trigger("d", run: "r")
        let before = h.state
        h.trigger("d", run: "r")
        #expect(h.state == before && h.last.isEmpty)
    }

    @Test func aRepeatedScheduleTickStartsOneRun() {
        var h = EngineHarness([spec])
        h.send(.scheduleTick(ScheduleTick(dagID: "d", logicalDate: t0)))
        h.send(.scheduleTick(ScheduleTick(dagID: "d", logicalDate: t0)))
        #expect(h.state.runs.count == 1)
        #expect(h.state.runs.keys.first == "d@2025-09-18T02:00:00Z")
        #expect(h.last.isEmpty)
    }

    @Test func aLateFailureForAnEarlierTryChangesNothing() {
        var h = EngineHarness([spec])
        h.trigger("d", run: "r")
        h.fail(attempt("r", "a", 1))
        h.send(.timerFired(TimerID(attempt: attempt("r", "a", 1), kind: .retry)), after: 60)
        h.send(.taskStarted(attempt("r", "a", 2), worker: "w2"))
        let before = h.state
        h.send(.taskFailed(attempt("r", "a", 1), TaskFailure(message: "again")))
        h.send(.taskStarted(attempt("r", "a", 1), worker: "w1"))
        h.send(.timerFired(TimerID(attempt: attempt("r", "a", 1), kind: .retry)))
        h.send(.timerFired(TimerID(attempt: attempt("r", "a", 1), kind: .timeout)))
        #expect(h.state == before)
    }

    @Test func aResultForAFutureTryOrUnknownRunIsIgnored() {
        var h = EngineHarness([spec])
        h.trigger("d", run: "r")
        let before = h.state
        h.send(.taskSucceeded(attempt("r", "a", 2), TaskSuccess()))
        h.send(.taskSucceeded(attempt("nope", "a", 1), TaskSuccess()))
        h.send(.taskSucceeded(attempt("r", "ghost", 1), TaskSuccess()))
        #expect(h.state == before)
    }

    @Test func nothingResurrectsAFinishedRun() {
        var h = EngineHarness([spec])
        h.trigger("d", run: "r")
        h.complete(attempt("r", "a"))
        h.complete(attempt("r", "b"))
        let before = h.state
        for event in h.log.map(\.0) { h.send(event) }
        #expect(h.state == before)
    }
}

@Suite struct EngineRequestTests {
    @Test func anUnknownDagIsRejected() {
        var h = EngineHarness([dag("d", tasks: [task("a")])])
        h.trigger("nope", run: "r")
        #expect(h.state.runs.isEmpty)
        guard case .reject(_, let reason) = h.last.first else { Issue.record("no reject: \(h.last)"); return }
        #expect(reason.contains("unknown DAG `nope`"))
    }

    @Test func aPausedDagRejectsRequestsAndHoldsQueuedRunsUntilUnpaused() {
        var h = EngineHarness([dag("d", maxActiveRuns: 1, tasks: [task("a")])])
        h.trigger("d", run: "r1")
        h.trigger("d", run: "r2")
        h.send(.dagPaused("d"))
        h.trigger("d", run: "r3")
        guard case .reject(_, let reason) = h.last.first else { Issue.record("no reject"); return }
        #expect(reason.contains("paused"))
        h.complete(attempt("r1", "a"))
        #expect(h.run("r2").state == .queued)
        h.send(.dagUnpaused("d"))
        #expect(h.run("r2").state == .running)
    }

    @Test func confIsCheckedAgainstDeclaredParamsAndDefaultsApply() {
        let params = ["model_type": ParamSpec(type: .string, default: "recommendation_model"), "limit": ParamSpec(type: .integer, required: true)]
        var h = EngineHarness([dag("d", tasks: [task("a")], params: params)])
        h.trigger("d", run: "bad", conf: ["limit": "ten", "extra": 1])
        guard case .reject(_, let reason) = h.last.first else { Issue.record("no reject"); return }
        #expect(reason.contains("`limit` must be integer") && reason.contains("unknown param `extra`"))
        h.trigger("d", run: "missing", conf: [:])
        guard case .reject(_, let missing) = h.last.first else { Issue.record("no reject"); return }
        #expect(missing.contains("missing required param `limit`"))
        h.trigger("d", run: "good", conf: ["limit": 10])
        #expect(h.run("good").conf == ["limit": 10, "model_type": "recommendation_model"])
        #expect(h.dispatched.first?.conf == ["limit": 10, "model_type": "recommendation_model"])
    }

    @Test func aSucceededRunRequestsRunsOfDagsThatTriggerOnIt() {
        var h = EngineHarness([dag("train", tasks: [task("a")]), dag("followup", tasks: [task("b")], triggerOn: ["train"])])
        h.trigger("train", run: "r")
        h.complete(attempt("r", "a"))
        let requested = h.last.compactMap { if case .requestRun(let r) = $0 { r } else { nil } }
        #expect(requested.map(\.dagID) == ["followup"])
        #expect(requested.first?.runID == "followup@after:r")
        #expect(requested.first?.trigger == .upstream(dagID: "train", runID: "r"))
    }

    @Test func cancellingARunAbandonsItsAttemptsFreesSlotsAndStartsTheNextRun() {
        var h = EngineHarness(
            [dag("d", maxActiveRuns: 1, tasks: [task("a", pool: "ml", timeout: .seconds(30)), task("b", pool: "ml")])],
            pools: ["ml": 1])
        h.trigger("d", run: "r1")
        h.trigger("d", run: "r2")
        h.send(.taskStarted(attempt("r1", "a"), worker: "w"))
        #expect(h.task("r1", "b").state == .queued)
        h.send(.runCancelled("r1", reason: "by ops"))
        #expect(h.run("r1").state == .cancelled)
        #expect(h.task("r1", "a").state == .cancelled && h.task("r1", "b").state == .cancelled)
        #expect(h.last.contains(.abandon(attempt("r1", "a"), reason: "run cancelled: by ops")))
        #expect(h.last.contains(.cancelTimer(TimerID(attempt: attempt("r1", "a"), kind: .timeout))))
        #expect(h.run("r2").state == .running)
        #expect(h.state.pools["ml"]?.holders == [attempt("r2", "a")])
        #expect(h.state.pools["ml"]?.waiting.contains(TaskKey(runID: "r1", taskID: "b")) == false)
        // A result for the cancelled attempt is ignored.
        let before = h.state
        h.send(.taskSucceeded(attempt("r1", "a"), TaskSuccess()))
        #expect(h.state == before)
    }

    @Test func stateSurvivesEncodingForTheStore() throws {
        var h = EngineHarness([dag("d", tasks: [task("a", retries: 1, timeout: .seconds(5)), task("b", after: ["a"], pool: "ml")])], pools: ["ml": 1])
        h.trigger("d", run: "r", conf: ["k": [1, 2.5, "x", nil, true]])
        h.fail(attempt("r", "a"))
        let data = try JSONEncoder().encode(h.state)
        #expect(try JSONDecoder().decode(EngineState.self, from: data) == h.state)
    }
}

@Suite struct EngineHistoryTests {
    @Test func finishedRunsLeaveTheActiveIndexAndOldOnesCanBeForgotten() {
        var h = EngineHarness([dag("d", maxActiveRuns: 1, tasks: [task("a")])])
        for i in 0..<5 {
            h.trigger("d", run: "r\(i)")
            h.complete(attempt("r\(i)", "a"))
        }
        h.trigger("d", run: "r5")
        #expect(h.state.activeRuns == ["r5"])
        h.state.forgetFinishedRuns(keepingPerDag: 2)
        #expect(Set(h.state.runs.keys) == ["r3", "r4", "r5"])
        var reloaded = h.state
        reloaded.activeRuns = []
        reloaded.reindex()
        #expect(reloaded.activeRuns == ["r5"])
    }
}
