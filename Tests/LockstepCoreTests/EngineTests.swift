import Foundation
import Testing

@testable import LockstepCore

@Suite struct EngineDependencyTests {
    @Test func linearRunPassesOutputsDownstreamAndSucceeds() {
        var h = EngineHarness([dag("d", tasks: [task("a"), task("b", after: ["a"]), task("c", after: ["b"])])])
        h.trigger("d", run: "r")
        #expect(h.run("r").state == .running)
        #expect(h.dispatched.map(\.attempt) == [attempt("r", "a")])
        h.complete(attempt("r", "a"), output: ["investors_count": 75])
        #expect(h.dispatched.map(\.attempt) == [attempt("r", "b")])
        #expect(h.dispatched[0].inputs == ["a": ["investors_count": 75]])
        h.complete(attempt("r", "b"), output: ["total": 225])
        // Every ancestor's output reaches c, not only its direct upstream's.
        #expect(h.dispatched[0].inputs == ["a": ["investors_count": 75], "b": ["total": 225]])
        h.complete(attempt("r", "c"))
        #expect(h.run("r").state == .succeeded)
        #expect(h.published.map(\.kind) == [.taskSucceeded, .runSucceeded])
        let finished = h.published.last
        #expect(finished?.output == ["a": ["investors_count": 75], "b": ["total": 225], "c": [:]])
    }

    @Test func fanOutDispatchesTogetherAndFanInWaitsForAll() {
        var h = EngineHarness([dag("d", tasks: [
            task("root"), task("left", after: ["root"]), task("right", after: ["root"]), task("join", after: ["left", "right"]),
        ])])
        h.trigger("d", run: "r")
        h.complete(attempt("r", "root"))
        #expect(Set(h.dispatched.map(\.attempt.taskID)) == ["left", "right"])
        h.complete(attempt("r", "left"))
        #expect(h.task("r", "join").state == .pending)
        h.complete(attempt("r", "right"))
        #expect(h.dispatched.map(\.attempt.taskID) == ["join"])
    }

    @Test func allSuccessMarksDownstreamUpstreamFailedAndTheRunFails() {
        var h = EngineHarness([dag("d", tasks: [task("a"), task("b", after: ["a"]), task("c", after: ["b"])])])
        h.trigger("d", run: "r")
        h.fail(attempt("r", "a"), retryable: false)
        #expect(h.task("r", "a").state == .failed)
        #expect(h.task("r", "b").state == .upstreamFailed && h.task("r", "c").state == .upstreamFailed)
        #expect(h.run("r").state == .failed)
        #expect(h.run("r").failure?.contains("a failed after 1 try: boom") == true)
        let failed = h.published.first { $0.kind == .runFailed }
        #expect(failed?.reason?.contains("boom") == true)
    }

    @Test func allDoneRunsAfterAFailureAndDecidesTheRunAsALeaf() {
        var h = EngineHarness([dag("d", tasks: [task("a"), task("report", after: ["a"], rule: .allDone)])])
        h.trigger("d", run: "r")
        h.fail(attempt("r", "a"), retryable: false)
        #expect(h.dispatched.map(\.attempt.taskID) == ["report"])
        h.complete(attempt("r", "report"))
        #expect(h.run("r").state == .succeeded)
    }

    @Test func oneSuccessRunsAsSoonAsOneUpstreamSucceeds() {
        var h = EngineHarness([dag("d", tasks: [task("x"), task("y"), task("z", after: ["x", "y"], rule: .oneSuccess)])])
        h.trigger("d", run: "r")
        h.complete(attempt("r", "x"))
        #expect(h.dispatched.map(\.attempt.taskID) == ["z"])
        #expect(h.task("r", "y").state == .scheduled)
    }

    @Test func oneSuccessFailsWhenAllUpstreamFailed() {
        var h = EngineHarness([dag("d", tasks: [task("x"), task("y"), task("z", after: ["x", "y"], rule: .oneSuccess)])])
        h.trigger("d", run: "r")
        h.fail(attempt("r", "x"), retryable: false)
        #expect(h.task("r", "z").state == .pending)
        h.fail(attempt("r", "y"), retryable: false)
        #expect(h.task("r", "z").state == .upstreamFailed)
    }

    @Test(arguments: [
        (TriggerRule.allSuccess, [TaskState.succeeded, .skipped], Readiness.skip),
        (.allFailed, [.failed, .upstreamFailed], .ready), (.allFailed, [.failed, .succeeded], .skip),
        (.oneFailed, [.failed, .running], .ready), (.oneFailed, [.succeeded, .succeeded], .skip),
        (.noneFailed, [.succeeded, .skipped], .ready), (.noneFailed, [.failed, .running], .upstreamFailed),
        (.allDone, [.failed, .running], .wait), (.always, [.running], .ready),
    ])
    func triggerRules(_ rule: TriggerRule, _ upstream: [TaskState], _ expected: Readiness) {
        #expect(rule.evaluate(upstream) == expected)
    }
}

@Suite struct EngineRetryTests {
    /// The seed's scenario: the FastAPI health check fails twice and succeeds on the third try, 10
    /// minutes after the first (2 retries, 5 minutes apart).
    @Test func healthCheckFailsTwiceThenSucceedsTenMinutesLater() throws {
        var h = EngineHarness([dag("training", tasks: [
            task("check_fastapi_health", retries: 2, delay: .seconds(300), timeout: .seconds(30)),
            task("extract_data", after: ["check_fastapi_health"]),
        ])])
        h.trigger("training", run: "r")
        let start = h.now
        h.fail(attempt("r", "check_fastapi_health", 1))
        #expect(h.task("r", "check_fastapi_health").state == .upForRetry)
        let retry1 = try #require(h.timers.first { $0.0.kind == .retry })
        #expect(retry1.1 == start.addingTimeInterval(300))
        #expect(h.published.contains { $0.kind == .taskUpForRetry && $0.retryAt == retry1.1 })

        h.send(.timerFired(retry1.0), after: 300)
        #expect(h.dispatched.map(\.attempt) == [attempt("r", "check_fastapi_health", 2)])
        h.fail(attempt("r", "check_fastapi_health", 2))
        let retry2 = try #require(h.timers.first { $0.0.kind == .retry })
        #expect(retry2.1 == start.addingTimeInterval(600))

        h.send(.timerFired(retry2.0), after: 300)
        #expect(h.dispatched.map(\.attempt) == [attempt("r", "check_fastapi_health", 3)])
        h.complete(attempt("r", "check_fastapi_health", 3))
        #expect(h.now == start.addingTimeInterval(600))
        let health = h.task("r", "check_fastapi_health")
        #expect(health.state == .succeeded && health.tryNumber == 3)
        #expect(health.attempts.map(\.outcome) == [.failed, .failed, .succeeded])
        #expect(h.dispatched.map(\.attempt) == [attempt("r", "extract_data")])
    }

    @Test func retriesRunOutAndTheTaskFails() {
        var h = EngineHarness([dag("d", tasks: [task("a", retries: 1, delay: .seconds(10))])])
        h.trigger("d", run: "r")
        h.fail(attempt("r", "a", 1))
        h.send(.timerFired(TimerID(attempt: attempt("r", "a", 1), kind: .retry)), after: 10)
        h.fail(attempt("r", "a", 2))
        #expect(h.task("r", "a").state == .failed && h.run("r").state == .failed)
        #expect(h.timers.isEmpty)
    }

    @Test func aNonRetryableErrorFailsAtOnce() {
        var h = EngineHarness([dag("d", tasks: [task("a", retries: 3)])])
        h.trigger("d", run: "r")
        h.fail(attempt("r", "a"), retryable: false)
        #expect(h.task("r", "a").state == .failed && h.task("r", "a").tryNumber == 1)
    }

    @Test func exponentialBackoffDoublesUpToTheMaximum() {
        let policy = RetryPolicy(retries: 5, delay: .seconds(60), exponentialBackoff: true, maxDelay: .seconds(300))
        #expect((1...5).map { policy.delay(afterTry: $0) } == [.seconds(60), .seconds(120), .seconds(240), .seconds(300), .seconds(300)])
        var h = EngineHarness([dag("d", tasks: [task("a", retries: 3, delay: .seconds(60), exponential: true, maxDelay: .seconds(100))])])
        h.trigger("d", run: "r")
        h.fail(attempt("r", "a", 1))
        #expect(h.timers.first?.1 == h.now.addingTimeInterval(60))
        h.send(.timerFired(TimerID(attempt: attempt("r", "a", 1), kind: .retry)), after: 60)
        h.fail(attempt("r", "a", 2))
        #expect(h.timers.first?.1 == h.now.addingTimeInterval(100))  // 120 capped at 100
    }

    @Test func aTimeoutEndsTheAttemptAndRetriesAndTheLateResultIsIgnored() throws {
        var h = EngineHarness([dag("d", tasks: [task("a", retries: 1, delay: .seconds(5), timeout: .seconds(30))])])
        h.trigger("d", run: "r")
        h.send(.taskStarted(attempt("r", "a"), worker: "w1"))
        let timeout = try #require(h.timers.first)
        #expect(timeout.0 == TimerID(attempt: attempt("r", "a"), kind: .timeout) && timeout.1 == h.now.addingTimeInterval(30))
        h.send(.timerFired(timeout.0), after: 30)
        #expect(h.task("r", "a").state == .upForRetry)
        #expect(h.task("r", "a").attempts[0].outcome == .timedOut)
        #expect(h.last.contains(.abandon(attempt("r", "a"), reason: "timed out")))
        // The first try's result arrives after its timeout: it does not resurrect the attempt.
        let before = h.state
        h.send(.taskSucceeded(attempt("r", "a"), TaskSuccess(output: ["late": true])))
        #expect(h.state == before && h.last.isEmpty)
        h.send(.timerFired(TimerID(attempt: attempt("r", "a"), kind: .retry)), after: 5)
        h.complete(attempt("r", "a", 2))
        #expect(h.run("r").state == .succeeded && h.task("r", "a").output == .emptyObject)
    }

    @Test func aWorkerReportedTimeoutCountsLikeATimerTimeout() {
        var h = EngineHarness([dag("d", tasks: [task("a", timeout: .seconds(30))])])
        h.trigger("d", run: "r")
        h.send(.taskStarted(attempt("r", "a"), worker: "w1"))
        h.send(.taskTimedOut(attempt("r", "a")), after: 30)
        #expect(h.task("r", "a").state == .failed && h.task("r", "a").attempts[0].outcome == .timedOut)
        #expect(h.task("r", "a").lastError?.category == "timeout")
        // The backstop timer firing afterwards changes nothing.
        let before = h.state
        h.send(.timerFired(TimerID(attempt: attempt("r", "a"), kind: .timeout)))
        #expect(h.state == before)
    }
}

@Suite struct EngineLimitTests {
    /// The seed's max_active_runs = 1: a second run waits, then runs.
    @Test func aSecondRunWaitsForTheFirstThenRuns() {
        var h = EngineHarness([dag("d", maxActiveRuns: 1, tasks: [task("a")])])
        h.trigger("d", run: "r1")
        h.trigger("d", run: "r2")
        #expect(h.run("r2").state == .queued && h.dispatched.isEmpty)
        h.trigger("d", run: "r3")
        h.complete(attempt("r1", "a"))
        #expect(h.run("r1").state == .succeeded)
        #expect(h.run("r2").state == .running && h.run("r3").state == .queued)
        #expect(h.dispatched.map(\.attempt) == [attempt("r2", "a")])
        h.complete(attempt("r2", "a"))
        #expect(h.run("r3").state == .running)
    }

    /// The seed's ml_training_pool has 2 slots: three pooled tasks that want them at once run two at a time.
    @Test func threePooledTasksShareTwoSlots() {
        var h = EngineHarness(
            [dag("d", tasks: [task("start"), task("p1", after: ["start"], pool: "ml"), task("p2", after: ["start"], pool: "ml"), task("p3", after: ["start"], pool: "ml")])],
            pools: ["ml": 2])
        h.trigger("d", run: "r")
        h.complete(attempt("r", "start"))
        #expect(h.dispatched.map(\.attempt.taskID) == ["p1", "p2"])
        #expect(h.task("r", "p3").state == .queued)
        #expect(h.state.pools["ml"]?.holders.count == 2)
        h.complete(attempt("r", "p2"))
        #expect(h.dispatched.map(\.attempt.taskID) == ["p3"])
    }

    @Test func poolSlotsAreSharedAcrossDagsAndFreedOnEveryOutcome() {
        var h = EngineHarness(
            [dag("x", tasks: [task("a", pool: "ml", timeout: .seconds(10))]), dag("y", tasks: [task("b", pool: "ml")]),
             dag("z", tasks: [task("c", pool: "ml")])],
            pools: ["ml": 1])
        h.trigger("x", run: "rx")
        h.trigger("y", run: "ry")
        h.trigger("z", run: "rz")
        #expect(h.task("rx", "a").state == .scheduled)
        #expect(h.task("ry", "b").state == .queued && h.task("rz", "c").state == .queued)
        // A timeout frees the slot…
        h.send(.taskStarted(attempt("rx", "a"), worker: "w"))
        h.send(.timerFired(TimerID(attempt: attempt("rx", "a"), kind: .timeout)), after: 10)
        #expect(h.dispatched.map(\.attempt) == [attempt("ry", "b")])  // …for the first in line
        // …and so does a failure.
        h.fail(attempt("ry", "b"), retryable: false)
        #expect(h.dispatched.map(\.attempt) == [attempt("rz", "c")])
        #expect(h.state.pools["ml"]?.holders == [attempt("rz", "c")])
    }

    @Test func dependsOnPastWaitsForThePreviousRunsTask() {
        var h = EngineHarness([dag("d", maxActiveRuns: 2, tasks: [task("a", dependsOnPast: true)])])
        h.trigger("d", run: "r1", logical: t0)
        h.trigger("d", run: "r2", logical: t0.addingTimeInterval(86400))
        #expect(h.task("r1", "a").state == .scheduled)
        #expect(h.task("r2", "a").state == .pending)
        #expect(h.task("r2", "a").waitingFor?.contains("r1") == true)
        h.complete(attempt("r1", "a"))
        #expect(h.dispatched.map(\.attempt) == [attempt("r2", "a")])
    }

    @Test func dependsOnPastHoldsAfterAFailedPreviousRun() {
        var h = EngineHarness([dag("d", maxActiveRuns: 2, tasks: [task("a", dependsOnPast: true)])])
        h.trigger("d", run: "r1", logical: t0)
        h.fail(attempt("r1", "a"), retryable: false)
        h.trigger("d", run: "r2", logical: t0.addingTimeInterval(86400))
        #expect(h.task("r2", "a").state == .pending && h.run("r2").state == .running)
    }
}
