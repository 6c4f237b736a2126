import Foundation
import LockstepBus
import LockstepCore
import LockstepOperators
@testable import LockstepServices
import LockstepTestKit
import LockstepWire
import Testing

/// Claims. A rebalance can hand a record that one consumer slot is still running to another slot of the
/// same worker process: the attempt must still run once. A worker that takes a dead worker's attempt
/// over keeps what that one logged.
@Suite struct WorkerClaimTests {
    @Test func twoSlotsOfOneWorkerGivenTheSameCommandRunTheAttemptOnce() async throws {
        let counter = FlakyCounter()
        let gate = Gate()
        let clock = TestClock()
        let registry = OperatorRegistry.allPacks.registering("nap", CountedWait(counter: counter, gate: gate))
        let system = try await InProcessLockstep(dags: [DagSpec(id: "dup", tasks: [task("n", "nap")])], registry: registry, clock: clock)
        let runtime = system.runtime
        try await runtime.createTopics()
        let attempt = AttemptID(runID: "dup~1", taskID: "n", tryNumber: 1)
        let record = try await Self.command(attempt, dag: "dup", operator: "nap", on: runtime)

        // Not started as a service: the test plays the two consumer slots itself.
        let worker = Worker(runtime: runtime, registry: registry, options: Worker.Options(concurrency: 2, dataDirectory: system.directory, reportsDirectory: system.directory))
        let first = Task { try await worker.handle(record, slot: 0) }
        try await poll("slot 0 to be inside the operator") { await counter.count("\(attempt.runID)/n") == 1 }
        // Slot 0 is inside the operator now; slot 1 receives the same record and finds it claimed: it
        // waits a heartbeat to look again, beside slot 0's own renewal at the same time.
        let second = Task { try await worker.handle(record, slot: 1) }
        let lookAgain = clock.now.addingTimeInterval(Worker.claimHeartbeat.timeInterval)
        try await poll("slot 1 to wait for slot 0's claim") { clock.pendingSleeps.filter { $0 == lookAgain }.count == 2 }
        await gate.open()
        try await first.value
        clock.advance(by: Worker.claimHeartbeat)
        try await second.value

        let results = try await system.events(on: runtime.topics.taskResults) {
            $0.filter { $0.type == EventType.attemptSucceeded }.count >= 2
        }
        await system.close()
        #expect(await counter.count("\(attempt.runID)/n") == 1)
        let starts = results.filter { $0.type == EventType.attemptStarted }
        #expect(starts.count == 1, "started by \(starts.compactMap { $0.data?["worker"]?.stringValue })")
        let successes = results.filter { $0.type == EventType.attemptSucceeded }
        // Slot 1 waited for slot 0's claim, then told slot 0's recorded result again.
        #expect(successes.count == 2)
        #expect(Set(successes.map(\.id)).count == 1)
    }

    /// A worker killed mid-attempt leaves its lines and a claim it no longer renews. The worker that
    /// takes the attempt over (the same try, redelivered) keeps them and numbers its own lines after
    /// them, behind one marker line naming itself.
    @Test func aWorkerTakingOverADeadWorkersAttemptLogsAfterItsLinesBehindAMarker() async throws {
        let clock = TestClock()
        let registry = OperatorRegistry.allPacks.registering("talk", Talk(lines: ["again 1", "again 2"]))
        let system = try await InProcessLockstep(dags: [DagSpec(id: "talk", tasks: [task("t", "talk")])], registry: registry, clock: clock)
        let runtime = system.runtime
        try await runtime.createTopics()
        let attempt = AttemptID(runID: "talk~1", taskID: "t", tryNumber: 1)
        let record = try await Self.command(attempt, dag: "talk", operator: "talk", on: runtime)
        // The dead worker claimed the attempt 30 s ago and stored three lines before it was killed.
        let dead = "worker/host-1-4242/0"
        #expect(try await runtime.store.claim(attempt, worker: dead, now: clock.now.addingTimeInterval(-30), staleAfter: .seconds(10)) == .claimed)
        try await runtime.store.appendLogLines(attempt, (1...3).map {
            StoredLogLine(seq: $0, time: clock.now.addingTimeInterval(-30), stream: "stdout", text: "before \($0)")
        }, claimedBy: dead)

        let worker = Worker(runtime: runtime, registry: registry, options: Worker.Options(concurrency: 1, dataDirectory: system.directory, reportsDirectory: system.directory))
        try await worker.handle(record, slot: 0)

        let page = try await runtime.store.logLines(attempt)
        await system.close()
        let taker = "worker/\(runtime.instance)/0"
        #expect(page.attemptEnded)
        #expect(page.lines.map(\.seq) == Array(1...6), "\(page.lines)")
        #expect(page.lines.map(\.text) == ["before 1", "before 2", "before 3", page.lines[3].text, "again 1", "again 2"])
        #expect(page.lines[3].stream == "operator" && page.lines[3].text.hasPrefix("[lockstep] \(taker) took this attempt over (same try): lines 1–3 came before"),
                "\(page.lines[3])")
    }

    /// The command the coordinator would publish for `attempt`, published and read back as a worker
    /// receives it.
    static func command(_ attempt: AttemptID, dag: String, operator op: String, on runtime: Runtime) async throws -> BusRecord {
        let dispatch = TaskDispatch(
            attempt: attempt, dagID: dag, logicalDate: Date(), operator: op, params: [:], conf: .emptyObject,
            inputs: [:], timeout: .seconds(30), maxTries: 1, pool: nil)
        let command = runtime.event(
            id: "dispatch/\(attempt)", component: "test", type: EventType.taskDispatched, subject: attempt.description,
            data: WireCodec.encode(dispatch))
        try await runtime.publish(command, to: runtime.topics.taskCommands, key: attempt.runID)
        return try #require(
            try await runtime.bus.read(topic: runtime.topics.taskCommands, from: .beginning, to: .latest).readAll().first)
    }
}

/// Writes its lines to the attempt's log as a program's stdout, then succeeds.
private struct Talk: TaskOperator {
    let lines: [String]
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        for line in lines { context.log.write(line, stream: .stdout) }
        return OperatorResult(output: [:])
    }
}
