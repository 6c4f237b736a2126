import Foundation
import Testing

@testable import LockstepCore

@Suite struct RunStatisticsTests {
    @Test func successRateDurationsQueueTimesAndErrorPatternsComeFromTheRuns() {
        var h = EngineHarness([dag("d", tasks: [task("check", retries: 1, delay: .seconds(60)), task("load", after: ["check"])])])
        // Run 1: check fails once (unavailable), then both succeed. Run 2: check fails for good.
        h.trigger("d", run: "r1")
        h.send(.taskStarted(attempt("r1", "check"), worker: "w"), after: 2)  // 2 s in the queue
        h.send(.taskFailed(attempt("r1", "check"), TaskFailure(message: "refused", retryable: true, category: "unavailable")), after: 1)
        h.send(.timerFired(TimerID(attempt: attempt("r1", "check"), kind: .retry)), after: 60)
        h.complete(attempt("r1", "check", 2), after: 1)
        h.complete(attempt("r1", "load"), after: 1)
        h.trigger("d", run: "r2")
        h.fail(attempt("r2", "check"), retryable: false)
        h.trigger("d", run: "r3")

        let stats = RunStatistics(runs: Array(h.state.runs.values))
        let d = try! #require(stats.dags.first)
        #expect(d.runs == 3 && d.succeeded == 1 && d.failed == 1 && d.active == 1)
        #expect(d.successRate == 0.5)
        let check = try! #require(d.tasks.first { $0.taskID == "check" })
        #expect(check.attempts == 4 && check.retries == 1)  // r1: 2, r2: 1, r3: 1 dispatched
        #expect(check.queueTime?.max == 2)
        #expect(stats.errors.map(\.category) == ["error", "unavailable"])
        #expect(stats.errors.first { $0.category == "unavailable" }?.lastMessage == "refused")
    }
}
