import Foundation
import LockstepBus
import LockstepCore
import LockstepServices
import LockstepTestKit
import LockstepTestSupport
import LockstepWire
import Testing

/// A rebuild replays while it reads, merging the topics by record time: it must leave exactly what
/// replaying the whole log sorted leaves, on both buses. Records a little out of time order are put
/// back in order; one earlier than what was already replayed makes it read again and sort, and say
/// which record it was.
@Suite(.serialized) struct RebuildOrderTests {
    static let dag = DagSpec(id: "order", maxActiveRuns: 4, tasks: [
        TaskSpec(id: "a", operator: "noop", retry: RetryPolicy(retries: 1, delay: .seconds(1))),
        TaskSpec(id: "b", operator: "noop", upstream: ["a"]),
        TaskSpec(id: "c", operator: "noop", upstream: ["a"], triggerRule: .allDone),
    ])
    static let base = ISO8601.parse("2026-01-05T00:00:00Z")!

    /// Run requests, attempt results and ops (cancels, pauses) on their own topics, interleaved in
    /// time as a coordinator sees them: what an input does depends on what came before it on
    /// another topic, so a wrong merge changes the state. `stamp` gives the i-th record's time.
    static func writeLog(_ runtime: Runtime, seed: UInt64, stamp: (Int) -> Date) async throws -> Int {
        var random = SplitMix64(seed: 0x0DE2_0000 + seed)
        let engine = Engine(dags: [dag], config: .empty)
        var state = EngineState()
        var inFlight: [AttemptID] = []
        var records: [OutgoingRecord] = []
        let topics = runtime.topics

        func append(_ event: EngineEvent, topic: String) {
            let time = stamp(records.count)
            let (type, data) = WireCodec.encode(event)
            var record = runtime.event(id: "e\(records.count)", component: "test", type: type, data: data, time: time)
                .record(topic: topic, key: WireCodec.key(for: event))
            record.timestamp = time
            records.append(record)
            for command in engine.apply(event, to: &state, now: time) {
                if case .dispatch(let dispatch) = command { inFlight.append(dispatch.attempt) }
            }
        }

        for step in 0..<160 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0, 1:
                let logical = base.addingTimeInterval(Double(step) * 3600)
                append(.runRequested(RunRequest(runID: .scheduled(dagID: dag.id, logicalDate: logical), dagID: dag.id, logicalDate: logical)),
                       topic: topics.runRequests)
            case 2 where step % 40 == 2:
                append(.dagPaused(dag.id), topic: topics.ops)
            case 3 where step % 40 == 3:
                append(.dagUnpaused(dag.id), topic: topics.ops)
            case 4 where !state.runs.isEmpty:
                let runs = state.runs.keys.sorted()
                append(.runCancelled(runs[Int.random(in: 0..<runs.count, using: &random)], reason: "test"), topic: topics.ops)
            default:
                guard !inFlight.isEmpty else { continue }
                let attempt = inFlight.remove(at: Int.random(in: 0..<inFlight.count, using: &random))
                append(.taskStarted(attempt, worker: "w"), topic: topics.taskResults)
                if Int.random(in: 0..<5, using: &random) == 0 {
                    append(.taskFailed(attempt, TaskFailure(message: "boom")), topic: topics.taskResults)
                } else {
                    append(.taskSucceeded(attempt, TaskSuccess()), topic: topics.taskResults)
                }
            }
        }
        // Unpaused at the end, so queued runs start and the state has every kind of run.
        append(.dagUnpaused(dag.id), topic: topics.ops)
        _ = try await runtime.bus.publish(records)
        return records.count
    }

    /// The runs and timers a replay of the whole log, sorted, leaves: what the rebuild must store.
    static func sortedOutcome(_ rebuild: Rebuild) async throws -> ([RunID: DagRun], [TimerID: Date]) {
        let outcome = try await rebuild.replay()
        return (Dictionary(uniqueKeysWithValues: outcome.allRuns.map { ($0.id, $0) }), outcome.timers)
    }

    static func withLog<T>(
        _ transport: Transport, seed: UInt64, stamp: (Int) -> Date, _ body: (Runtime, Int) async throws -> T
    ) async throws -> T {
        let dir = try TestPaths.temporaryDirectory("lockstep-rebuild-order")
        let fixture = try await transport.start(directory: dir)
        defer { fixture.stop() }
        let runtime = Runtime(bus: try fixture.makeBus(), store: try await StateStore(.sqlite(path: dir.appendingPathComponent("state.sqlite").path)),
                              dags: [dag], config: .empty)
        try await runtime.createTopics()
        let written = try await writeLog(runtime, seed: seed, stamp: stamp)
        let result = try await body(runtime, written)
        await runtime.bus.close()
        await runtime.store.close()
        return result
    }

    @Test(arguments: Transport.allCases)
    func recordsInTimeOrderAreReplayedWhileReadAndLeaveWhatTheSortedLogLeaves(_ transport: Transport) async throws {
        for seed in 0..<3 as Range<UInt64> {
            try await Self.withLog(transport, seed: seed, stamp: { Self.base.addingTimeInterval(Double($0) * 0.01) }) { runtime, written in
                // Small chunks and window: many merges across chunk boundaries of every topic.
                let rebuild = Rebuild(runtime: runtime, chunkSize: 7, reorderWindow: 3)
                let (runs, timers) = try await Self.sortedOutcome(rebuild)
                let summary = try await rebuild.run()
                #expect(summary.sortedBecause == nil)
                #expect(summary.events == written)
                let (stored, storedTimers) = try await runtime.store.loadEngine()
                #expect(stored.runs == runs && storedTimers == timers, "seed \(seed)")
                #expect(runs.values.contains { $0.state == .cancelled } && runs.values.contains { $0.state == .succeeded })
            }
        }
    }

    @Test func recordsALittleOutOfTimeOrderAreMergedBackIntoOrderWithinTheWindow() async throws {
        // Every third record stamped 25 ms before the one ahead of it: two places out of order.
        let stamp = { (i: Int) in Self.base.addingTimeInterval(Double(i) * 0.01 - (i % 3 == 2 ? 0.025 : 0)) }
        try await Self.withLog(.embedded, seed: 4, stamp: stamp) { runtime, _ in
            let rebuild = Rebuild(runtime: runtime, chunkSize: 5, reorderWindow: 8)
            let (runs, timers) = try await Self.sortedOutcome(rebuild)
            let summary = try await rebuild.run()
            #expect(summary.sortedBecause == nil)
            let (stored, storedTimers) = try await runtime.store.loadEngine()
            #expect(stored.runs == runs && storedTimers == timers)
        }
    }

    @Test(arguments: Transport.allCases)
    func aRecordEarlierThanWhatWasReplayedMakesItSortTheWholeLogAndSayWhich(_ transport: Transport) async throws {
        // A pause appended last, stamped a day before the first record.
        try await Self.withLog(transport, seed: 5, stamp: { Self.base.addingTimeInterval(Double($0) * 0.01) }) { runtime, written in
            var late = runtime.event(id: "late", component: "test", type: EventType.dagPaused, data: ["dag_id": .string(Self.dag.id)])
                .record(topic: runtime.topics.ops, key: Self.dag.id)
            late.timestamp = Self.base.addingTimeInterval(-86_400)
            _ = try await runtime.bus.publish([late])
            let rebuild = Rebuild(runtime: runtime, chunkSize: 16, reorderWindow: 4)
            let (runs, timers) = try await Self.sortedOutcome(rebuild)
            let summary = try await rebuild.run()
            let (stored, storedTimers) = try await runtime.store.loadEngine()
            #expect(stored.runs == runs && storedTimers == timers)
            #expect(summary.events == written + 1)
            let reason = try #require(summary.sortedBecause)
            #expect(reason.contains("lockstep.ops["), "\(reason)")
        }
    }
}
