import Foundation
import LockstepBus
import LockstepCore
import LockstepOperators
import LockstepServices
import LockstepTestKit
import LockstepWire
import Testing

/// The components together in one process on the embedded bus: events in, runs out.
@Suite struct StandalonePipelineTests {
    @Test func aRunRequestEventRunsTheDagAndAnnouncesEveryStep() async throws {
        let dag = DagSpec(id: "fan", maxActiveRuns: 1, tasks: [
            task("a"), task("b", after: ["a"]), task("c", after: ["a"]), task("d", after: ["b", "c"]),
        ])
        let system = try await InProcessLockstep(dags: [dag])
        system.start()
        let runID = try await system.trigger("fan")
        let run = try await system.waitForRun(runID)
        let events = try await system.events(on: system.runtime.topics.runEvents) {
            $0.contains { $0.subject == runID && $0.type == "lockstep.run.succeeded" }
        }.filter { $0.subject == runID }
        await system.close()
        #expect(run.state == .succeeded)
        #expect(run.tasks.values.allSatisfy { $0.state == .succeeded && $0.tryNumber == 1 })

        let types = events.map(\.type)
        #expect(types.first == "lockstep.run.queued")
        #expect(types.last == "lockstep.run.succeeded")
        #expect(types.filter { $0 == "lockstep.task.succeeded" }.count == 4)
        #expect(Set(events.map(\.id)).count == events.count)
    }

    @Test func aFlakyTaskIsRetriedUntilItSucceeds() async throws {
        let counter = FlakyCounter()
        let registry = OperatorRegistry.allPacks.registering("flaky", FlakyOperator(counter: counter, failures: 2))
        let dag = DagSpec(id: "retrying", tasks: [task("check", "flaky", retries: 2, delay: .milliseconds(50)), task("after", after: ["check"])])
        let clock = TestClock()
        let system = try await InProcessLockstep(dags: [dag], registry: registry, clock: clock)
        // One consumer slot per group: a rebalance could otherwise park a redelivered command behind a
        // claim until the test clock next moves.
        system.start(workers: 1)
        let runID = try await system.trigger("retrying")
        for failed in 1...2 {
            try await system.waitForTask(runID, "check", try: failed, .upForRetry)
            clock.advance(by: .milliseconds(50))  // the retry delay
        }
        let run = try await system.waitForRun(runID)
        await system.close()
        #expect(run.state == .succeeded)
        #expect(run.tasks["check"]?.tryNumber == 3)
        #expect(run.tasks["check"]?.attempts.map(\.outcome) == [.failed, .failed, .succeeded])
        #expect(run.tasks["check"]?.output == ["calls": 3])
        #expect(await counter.count("\(runID)/check") == 3)
    }

    @Test func anAttemptPastItsTimeoutIsRetriedThenTheRunFailsWithTheCause() async throws {
        let clock = TestClock()
        let registry = OperatorRegistry.allPacks.registering("hang", HangOperator())
        let dag = DagSpec(id: "slow", tasks: [task("nap", "hang", retries: 1, delay: .milliseconds(50), timeout: .milliseconds(300))])
        let system = try await InProcessLockstep(dags: [dag], registry: registry, clock: clock)
        system.start(workers: 1)
        let runID = try await system.trigger("slow")
        // Past the timeout and the worker's grace: the coordinator's timer fires and the worker ends the attempt.
        let pastTheLimit = Duration.milliseconds(300) + Worker.deadlineGrace
        try await system.waitForTask(runID, "nap", try: 1, .running)
        clock.advance(by: pastTheLimit)
        try await system.waitForTask(runID, "nap", try: 1, .upForRetry)
        clock.advance(by: .milliseconds(50))  // the retry delay
        try await system.waitForTask(runID, "nap", try: 2, .running)
        clock.advance(by: pastTheLimit)
        let run = try await system.waitForRun(runID)
        await system.close()
        #expect(run.state == .failed)
        #expect(run.tasks["nap"]?.attempts.map(\.outcome) == [.timedOut, .timedOut])
        #expect(run.failure?.contains("nap failed after 2 tries") == true)
    }

    @Test func theSameIdempotencyKeyTwiceStartsOneRun() async throws {
        let dag = DagSpec(id: "once", tasks: [task("a")])
        let system = try await InProcessLockstep(dags: [dag])
        system.start()
        let first = try await system.trigger("once", idempotencyKey: "nightly-2025-09-18")
        let second = try await system.trigger("once", idempotencyKey: "nightly-2025-09-18")
        #expect(first == second)
        _ = try await system.waitForRun(first)
        let extra = try await system.trigger("once")
        _ = try await system.waitForRun(extra)
        let runs = try await system.runtime.store.runs(dagID: "once")
        await system.close()
        #expect(runs.count == 2)
    }

    /// A finished run leaves the coordinator's memory once committed, and a starting coordinator does
    /// not load it: a repeated request for it is recognised in the store and starts nothing.
    @Test func aRequestRepeatedAfterItsRunFinishedAndLeftMemoryStartsNothing() async throws {
        let counter = FlakyCounter()
        let registry = OperatorRegistry.allPacks.registering("counted", FlakyOperator(counter: counter, failures: 0))
        let system = try await InProcessLockstep(dags: [DagSpec(id: "nightly", tasks: [task("work", "counted")])], registry: registry)
        system.start()
        let first = try await system.trigger("nightly", idempotencyKey: "2025-09-18")
        let finished = try await system.waitForRun(first)
        // Requests share the DAG id as their key, so each probe is handled after the repeat before it.
        _ = try await system.trigger("nightly", idempotencyKey: "2025-09-18")
        _ = try await system.waitForRun(try await system.trigger("nightly"))
        await system.stop()
        system.start()
        _ = try await system.trigger("nightly", idempotencyKey: "2025-09-18")
        _ = try await system.waitForRun(try await system.trigger("nightly"))
        let again = try await system.runtime.store.run(first)
        let (loaded, _) = try await system.runtime.store.loadEngine(finishedRunsOf: [])
        await system.close()
        #expect(await counter.count("\(first)/work") == 1)
        #expect(again == finished)
        #expect(loaded.runs.isEmpty, "finished runs of a DAG without depends_on_past are not loaded")
    }

    @Test func aMalformedRequestIsDeadLetteredAndTheCoordinatorCarriesOn() async throws {
        let dag = DagSpec(id: "ok", tasks: [task("a")])
        let system = try await InProcessLockstep(dags: [dag])
        system.start()
        let topics = system.runtime.topics
        try await system.runtime.bus.publish(OutgoingRecord(topic: topics.runRequests, key: "x", value: Array("not an event".utf8)))
        let unknown = system.runtime.event(component: "test", type: EventType.runRequested, data: ["dag_id": "nope"])
        try await system.runtime.publish(unknown, to: topics.runRequests, key: "nope")
        let runID = try await system.trigger("ok")
        let run = try await system.waitForRun(runID)
        let letters = try await system.events(on: topics.deadLetters) { $0.count >= 2 }
        await system.close()
        #expect(run.state == .succeeded)
        #expect(letters.count == 2)
        let reasons = letters.compactMap { $0.data?["reason"]?.stringValue }
        #expect(reasons.contains { $0.contains("unknown DAG `nope`") })
        #expect(reasons.count == 2)
        #expect(letters.allSatisfy { $0.data?["original"]?["topic"]?.stringValue == topics.runRequests })
    }

    @Test func poolSlotsHoldAcrossRunsOfDifferentDags() async throws {
        let dags = ["p", "q"].map { DagSpec(id: $0, tasks: [task("work", "sleep", params: ["seconds": 0.2], pool: "ml")]) }
        let system = try await InProcessLockstep(dags: dags, config: LockstepConfig(pools: ["ml": PoolSpec(slots: 1)]))
        system.start(workers: 4)
        var ids: [RunID] = []
        for dag in ["p", "q", "p", "q"] { ids.append(try await system.trigger(dag)) }
        var runs: [DagRun] = []
        for id in ids { runs.append(try await system.waitForRun(id)) }
        await system.close()
        #expect(runs.allSatisfy { $0.state == .succeeded })
        // One slot: no two pooled attempts overlapped in time.
        let spans = runs.compactMap { $0.tasks["work"]?.attempts.first }.compactMap { a in a.startedAt.flatMap { s in a.finishedAt.map { (s, $0) } } }.sorted { $0.0 < $1.0 }
        #expect(spans.count == 4)
        for (earlier, later) in zip(spans, spans.dropFirst()) { #expect(earlier.1 <= later.0) }
    }

    @Test func aRestartedCoordinatorFinishesTheRunWithoutRunningAnAttemptTwice() async throws {
        let counter = FlakyCounter()
        let registry = OperatorRegistry.allPacks.registering("counted", FlakyOperator(counter: counter, failures: 0))
        let dag = DagSpec(id: "long", tasks: [
            task("first", "counted"), task("nap", "sleep", after: ["first"], params: ["seconds": 0.5]), task("last", "counted", after: ["nap"]),
        ])
        let system = try await InProcessLockstep(dags: [dag], registry: registry)
        system.start()
        let runID = try await system.trigger("long")
        // Stop everything while `nap` runs, then start again on the same data directory.
        try await system.waitForTask(runID, "nap", .running)
        await system.stop()
        system.start()
        let run = try await system.waitForRun(runID)
        await system.close()
        #expect(run.state == .succeeded)
        #expect(await counter.count("\(runID)/first") == 1)
        #expect(await counter.count("\(runID)/last") == 1)
    }
}

@Suite struct DuplicateCommandTests {
    @Test func aDuplicatedCommandNeverRunsAnAttemptTwice() async throws {
        let counter = FlakyCounter()
        let gate = Gate()
        let registry = OperatorRegistry.allPacks.registering("nap", CountedWait(counter: counter, gate: gate))
        let system = try await InProcessLockstep(dags: [DagSpec(id: "dup", tasks: [task("n", "nap")])], registry: registry)
        system.start(workers: 4)
        let runID = try await system.trigger("dup")
        try await system.waitForTask(runID, "n", .running)
        // The same command again while the attempt runs (as a restarted coordinator's outbox would send it)…
        let commands = try await system.runtime.bus.read(topic: system.runtime.topics.taskCommands, from: .beginning, to: .latest).readAll()
        let command = try #require(commands.first { $0.key == runID })
        let copy = OutgoingRecord(topic: command.topic, key: command.key, value: command.value, headers: command.headers)
        try await system.runtime.bus.publish(copy)
        await gate.open()  // the attempt ends only now, with the copy already in the log
        let run = try await system.waitForRun(runID)
        // …and once more after it finished.
        try await system.runtime.bus.publish(copy)
        let results = try await system.events(on: system.runtime.topics.taskResults) {
            $0.filter { $0.type == EventType.attemptSucceeded && $0.data?["run_id"]?.stringValue == runID }.count >= 3
        }
        await system.close()
        #expect(run.state == .succeeded)
        #expect(await counter.count("\(runID)/n") == 1)
        let successes = results.filter { $0.type == EventType.attemptSucceeded && $0.data?["run_id"]?.stringValue == runID }
        #expect(successes.count == 3)
        #expect(Set(successes.map(\.id)).count == 1)  // the same recorded result, told again
    }
}

@Suite struct CrossPipelineTests {
    @Test func aDagDeclaringTriggerOnRunsAfterTheOtherSucceedsAndNotAfterItFails() async throws {
        let train = DagSpec(id: "train", tasks: [task("t")])
        let followup = DagSpec(id: "followup", triggerOn: ["train"], tasks: [task("f")])
        let failing = DagSpec(id: "flop", tasks: [task("x", "fail", params: ["retryable": false])])
        let watcher = DagSpec(id: "watcher", triggerOn: ["flop"], tasks: [task("w")])
        let system = try await InProcessLockstep(dags: [train, followup, failing, watcher])
        system.start()
        let trainRun = try await system.trigger("train")
        _ = try await system.waitForRun(trainRun)
        let follow = try await system.waitForRun("followup@after:\(trainRun)")
        let flopRun = try await system.trigger("flop")
        _ = try await system.waitForRun(flopRun)
        let next = try await system.trigger("train")
        _ = try await system.waitForRun(next)
        _ = try await system.waitForRun("followup@after:\(next)")
        let watcherRuns = try await system.runtime.store.runs(dagID: "watcher")
        await system.close()
        #expect(follow.state == .succeeded)
        #expect(follow.trigger == .upstream(dagID: "train", runID: trainRun))
        #expect(watcherRuns.isEmpty)
    }
}

@Suite struct CancellationTests {
    @Test func cancellingARunStopsItsRunningAttemptOnTheWorker() async throws {
        let dag = DagSpec(id: "long", tasks: [task("nap", "sleep", params: ["seconds": 60])])
        let clock = TestClock()
        let system = try await InProcessLockstep(dags: [dag], clock: clock)
        system.start(workers: 1)
        let runID = try await system.trigger("long")
        try await system.waitForTask(runID, "nap", .running)
        try await OpsActions(runtime: system.runtime, actor: "test").cancel(runID, reason: "not needed")
        let run = try await system.waitForRun(runID)
        // The worker notices at its next heartbeat and stops the operator long before its 60 s.
        clock.advance(by: Worker.claimHeartbeat)
        let results = try await system.events(on: system.runtime.topics.taskResults, until: {
            $0.contains { $0.type == EventType.attemptFailed && $0.data?["run_id"]?.stringValue == runID }
        }, timeout: .seconds(20))
        await system.close()
        #expect(run.state == .cancelled && run.tasks["nap"]?.state == .cancelled)
        let stopped = results.first { $0.type == EventType.attemptFailed && $0.data?["run_id"]?.stringValue == runID }
        #expect(stopped?.data?["error"]?["category"] == "cancelled")
    }
}
