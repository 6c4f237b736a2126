import Foundation
import LockstepBus
import LockstepCore
import LockstepServices
import LockstepTestKit
import LockstepWire
import Testing

/// The scheduler on the embedded bus with a test clock: deterministic tick ids, catchup, pauses.
@Suite struct SchedulerTests {
    static let now = ISO8601.parse("2025-09-18T02:05:30Z")!

    func ticks(_ system: InProcessLockstep) async throws -> [CloudEvent] {
        try await system.events(on: system.runtime.topics.scheduleTicks)
    }

    /// Runs two schedulers at once (as after a failover, or by mistake) until `done` holds and both
    /// have looked once more a poll interval later, then returns every tick on the topic.
    func runSchedulers(_ system: InProcessLockstep, until done: @escaping ([CloudEvent]) -> Bool) async throws -> [CloudEvent] {
        try await system.runtime.createTopics()
        let clock = TestClock(now: Self.now)
        var clocked = system.runtime
        clocked.clock = clock
        let interval = Duration.milliseconds(50)
        let first = Scheduler(runtime: clocked, pollInterval: interval)
        let second = Scheduler(runtime: clocked, pollInterval: interval)
        let tasks = [Task { try await first.run() }, Task { try await second.run() }]
        _ = try await system.events(on: system.runtime.topics.scheduleTicks, until: done)
        // A scheduler sleeps only after publishing what is due: once both sleep, a wrong extra tick
        // would be on the topic. The same after one more look each.
        try await bothAsleep(clock)
        clock.advance(by: interval)
        try await bothAsleep(clock)
        for task in tasks { task.cancel() }
        return try await ticks(system)
    }

    func bothAsleep(_ clock: TestClock) async throws {
        try await poll("both schedulers to wait for their next look") { clock.pendingSleeps.count == 2 }
    }

    @Test func catchupTicksEveryMissedIntervalAndTwoSchedulersStartEachRunOnce() async throws {
        let dag = DagSpec(
            id: "minutely", schedule: "* * * * *", catchup: true, startDate: ISO8601.parse("2025-09-18T02:01:00Z")!,
            maxActiveRuns: 10, tasks: [task("a")])
        let system = try await InProcessLockstep(dags: [dag])
        system.start()
        let ticks = try await runSchedulers(system) { Set($0.map(\.id)).count >= 5 }
        let expected = (1...5).map { "minutely@2025-09-18T02:0\($0):00Z" }
        #expect(Set(ticks.map(\.id)) == Set(expected))
        for id in expected { _ = try await system.waitForRun(id) }
        let runs = try await system.runtime.store.runs(dagID: "minutely")
        await system.close()
        #expect(runs.count == 5)
        #expect(runs.allSatisfy { $0.trigger == .schedule && $0.state == .succeeded })
    }

    @Test func withoutCatchupAFirstStartWaitsForTheNextFiringAndPausedDagsGetNoTicks() async throws {
        let quiet = DagSpec(id: "quiet", schedule: "*/6 * * * *", tasks: [task("a")])
        let paused = DagSpec(id: "paused", schedule: "* * * * *", catchup: true, startDate: ISO8601.parse("2025-09-18T02:01:00Z")!,
                             paused: true, tasks: [task("a")])
        let backlog = DagSpec(id: "backlog", schedule: "* * * * *", catchup: true, startDate: ISO8601.parse("2025-09-18T02:04:00Z")!,
                              tasks: [task("a")])
        let system = try await InProcessLockstep(dags: [quiet, paused, backlog])
        let ticks = try await runSchedulers(system) { Set($0.map(\.id)).count >= 2 }
        await system.close()
        // Only `backlog` (catchup from its start date) ticks; `quiet` starts from now, `paused` never.
        #expect(Set(ticks.map(\.id)) == ["backlog@2025-09-18T02:04:00Z", "backlog@2025-09-18T02:05:00Z"])
    }
}
