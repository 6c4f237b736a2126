import Foundation
import LockstepBus
import LockstepCore
import LockstepOperators
import LockstepServices
import LockstepTestKit
import LockstepTestSupport
import LockstepWire
import Testing

/// Where an attempt runs is data on its task: its `queue`, else its operator's default queue. The
/// notifier dead-letters a notification when the engine said its try was the last.
@Suite struct QueueRoutingTests {
    @Test func aTaskRunsOnItsQueueAndTheNotifierDeadLettersOnlyItsLastTry() async throws {
        let dag = DagSpec(id: "routed", tasks: [
            TaskSpec(id: "work", operator: "noop"),
            TaskSpec(id: "announce", operator: "fail", params: ["message": "receiver down"], upstream: ["work"],
                     retry: RetryPolicy(retries: 1, delay: .seconds(60)), queue: .notifications),
        ])
        let clock = TestClock()
        let system = try await InProcessLockstep(dags: [dag], clock: clock)
        system.start(workers: 1)
        let topics = system.runtime.topics
        let runID = try await system.trigger("routed")
        try await system.waitForTask(runID, "announce", try: 1, .upForRetry)
        // The notifier dead-letters before it publishes the result the engine just handled: none yet.
        #expect(try await system.events(on: topics.deadLetters).isEmpty)
        clock.advance(by: .seconds(60))
        let run = try await system.waitForRun(runID)
        let letters = try await system.events(on: topics.deadLetters) { !$0.isEmpty }
        let commands = try await system.events(on: topics.taskCommands)
        let notifications = try await system.events(on: topics.notifications)
        await system.close()

        #expect(run.state == .failed)
        #expect(run.tasks["announce"]?.attempts.map(\.outcome) == [.failed, .failed])
        #expect(commands.map(\.id) == ["dispatch/\(runID)/work#1"])
        #expect(notifications.map(\.id) == ["dispatch/\(runID)/announce#1", "dispatch/\(runID)/announce#2"])
        #expect(notifications.map { $0.data?["is_last_try"] } == [false, true])
        #expect(letters.count == 1)
        let letter = try #require(letters.first?.data)
        #expect(letter["component"]?.stringValue == "notifier")
        #expect(letter["original"]?["topic"]?.stringValue == topics.notifications)
        #expect(letter["reason"]?.stringValue?.contains("receiver down") == true, "\(letter)")
        #expect(letter["original"]?["value"]?.stringValue?.contains("\"try_number\":2") == true)
    }

    @Test func theSeedsNotificationGoesToTheNotifierByItsOperatorsDefault() throws {
        let dags = try DeploymentFiles.readDags(
            TestPaths.packageRoot.appendingPathComponent("config/dags"), config: LockstepConfig(pools: ["ml_training_pool": PoolSpec(slots: 2)]),
            registry: .allPacks)
        let training = try #require(dags.first { $0.id == "recommender_training_pipeline" })
        // The DAG file names no queue: the Noblestride pack says where its notification runs.
        #expect(training.tasks.allSatisfy { $0.queue == nil })
        let registry = OperatorRegistry.allPacks
        #expect(registry.defaultQueue(for: "notify_training_complete") == .notifications)
        #expect(training.tasks.filter { registry.defaultQueue(for: $0.operator) == .notifications }.map(\.id) == ["notify_training_complete"])
        #expect(registry.registering("ping", OperatorPack.generic.operators["noop"]!, queue: .notifications).defaultQueue(for: "ping") == .notifications)
    }

    @Test func aDispatchFromBeforeIsLastTryReadsTheBudget() throws {
        let attempt = AttemptID(runID: "r", taskID: "t", tryNumber: 3)
        let dispatch = TaskDispatch(
            attempt: attempt, dagID: "d", logicalDate: TestClock.defaultStart, operator: "noop", params: [:], conf: .emptyObject,
            inputs: [:], timeout: nil, maxTries: 3, pool: nil)
        #expect(dispatch.isLastTry)
        var data = WireCodec.encode(dispatch).objectValue ?? [:]
        #expect(data["is_last_try"] == true)
        data["is_last_try"] = nil
        let old = CloudEvent(id: "x", source: "test", type: EventType.taskDispatched, data: .object(data))
        #expect(try WireCodec.decodeDispatch(old).isLastTry)
        data["try_number"] = 2
        #expect(try !WireCodec.decodeDispatch(CloudEvent(id: "y", source: "test", type: EventType.taskDispatched, data: .object(data))).isLastTry)
    }
}
