import Foundation
import LockstepBus
import LockstepCore
import LockstepServices
import LockstepTestSupport
import LockstepWire

/// `lockstep rebuild` over 1,000,000 events: the run-state store recomputed from the topics
/// (`Rebuild.run`: read and decode every coordinator input, sort, replay through the engine, write the
/// store). The log is what a backfill of the five-task DAG leaves on the embedded log: run requests,
/// and for each attempt the worker's attempt.started and attempt.succeeded (the inputs rebuild
/// reads), beside the coordinator's task commands and lifecycle events (which it does not read).
///
/// The records are generated, not produced by the components: the engine itself is driven in this
/// process to decide what each run dispatches, and every record is built with the wire codec and
/// the ids and keys the components use (`WireCodec`, `dispatch/…`, `started/…`, `result/…`), then
/// appended to the embedded log in batches. Running 90,000 runs through the real pipeline would take
/// longer than the bench is worth. `REBUILD_EVENTS=N` changes the count. `REBUILD_LOG=DIR` keeps the
/// log in DIR and reuses it when it is there already, so a change to the rebuild can be measured
/// again without the two minutes of writing it (the state store in DIR is made afresh each time).
enum RebuildBench {
    static var target: Int { ProcessInfo.processInfo.environment["REBUILD_EVENTS"].flatMap { Int($0) } ?? 1_000_000 }
    static var kept: URL? { ProcessInfo.processInfo.environment["REBUILD_LOG"].map { URL(fileURLWithPath: $0) } }
    static let batch = 2_000
    static let dag = DagSpec(id: "backfill_five", maxActiveRuns: 64, tasks: [
        TaskSpec(id: "a", operator: "noop"),
        TaskSpec(id: "b", operator: "noop", upstream: ["a"]),
        TaskSpec(id: "c", operator: "noop", upstream: ["a"]),
        TaskSpec(id: "d", operator: "noop", upstream: ["b", "c"]),
        TaskSpec(id: "e", operator: "noop", upstream: ["d"]),
    ])

    static func run() async throws {
        let directory = try kept ?? TestPaths.temporaryDirectory("lockstep-bench-rebuild")
        defer { if kept == nil { try? FileManager.default.removeItem(at: directory) } }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let written = directory.appendingPathComponent("written.json")
        // A fresh store each time, as on a first run: a rebuild over a full one deletes its rows first.
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent("state.sqlite" + suffix))
        }
        let floors = try await Floors.measured()
        let runtime = Runtime(
            bus: try EmbeddedBus(directory: directory),
            store: try await StateStore(.sqlite(path: directory.appendingPathComponent("state.sqlite").path)),
            dags: [dag], config: .empty)
        try await runtime.createTopics()

        if let data = try? Data(contentsOf: written), let log = try? JSONDecoder().decode(Written.self, from: data) {
            print("  log reused from \(directory.path): \(log.inputs) inputs (\(log.requests) run requests), \(log.outputs) commands and lifecycle events")
        } else {
            let generated = ContinuousClock.now
            let log = try await write(runtime)
            let generation = (ContinuousClock.now - generated).ms / 1000
            print(String(format: "  log written (generated with the wire codec, not by the components): %d inputs (%d run requests, %d attempt results) "
                + "+ %d commands and lifecycle events, %d runs, in %.1f s",
                         log.inputs, log.requests, log.inputs - log.requests, log.outputs, log.requests, generation))
            if kept != nil { try JSONEncoder().encode(log).write(to: written) }
        }

        let rebuild = Rebuild(runtime: runtime)
        let started = ContinuousClock.now
        let done = try await rebuild.run()
        let total = (ContinuousClock.now - started).ms / 1000
        let (events, runs) = (done.events, done.runs)
        let (read, replayed, committed) = (done.read.ms / 1000, done.replayed.ms / 1000, done.committed.ms / 1000)
        // The store write alone, for comparison: the whole outcome written in one go, as before the
        // store wrote while the replay went on (it reads and replays again first, untimed).
        let outcome = try await rebuild.replay()
        let writeStarted = ContinuousClock.now
        try await runtime.store.replaceEngine(state: outcome.state, finished: outcome.finished, timers: outcome.timers)
        let write = (ContinuousClock.now - writeStarted).ms / 1000
        guard let stored = try await runtime.store.run(.scheduled(dagID: dag.id, logicalDate: first)), stored.state == .succeeded else {
            throw BenchError("the first run is not succeeded after the rebuild")
        }
        print(String(format: "rebuild of %d events (%d runs): %.2f s total, %.0f events/s (goal: ≤ 10 s)", events, runs, total, Double(events) / total))
        if let reason = done.sortedBecause {
            print("  records out of time order (\(reason)): read again whole and sorted before the replay")
        } else {
            print("  records in time order: replayed while they were read, merged across topics")
        }
        print(String(format: "  read + decode ended at %.2f s (%.1f µs per event, %d cores), the replay through the engine at %.2f s, "
            + "the store (writing meanwhile) committed at %.2f s",
                     read, read * 1e6 / Double(events), ProcessInfo.processInfo.activeProcessorCount, replayed, committed))
        print(String(format: "  the store write alone, all %d runs in one go after a replay: %.2f s", runs, write))
        print(String(format: "  per event %.1f µs = %.3f× one durable commit (%.3f ms): a rebuild commits once, not per event",
                     total * 1e6 / Double(events), total * 1000 / Double(events) / floors.commitP50, floors.commitP50))
        await runtime.bus.close()
        await runtime.store.close()
    }

    static let first = ISO8601.parse("2024-01-01T00:00:00Z")!

    struct Written: Codable {
        var inputs = 0
        var requests = 0
        var outputs = 0
    }

    /// Drives the engine as the coordinator would, with a worker that starts and succeeds the oldest
    /// dispatched attempt at once, and appends every record that exchange puts on the log.
    static func write(_ runtime: Runtime) async throws -> Written {
        let engine = Engine(dags: [dag], config: .empty)
        var state = EngineState()
        var written = Written()
        var pending: [OutgoingRecord] = []
        var inFlight: [AttemptID] = []
        var head = 0
        var finishedRuns = 0
        var now = first
        let topics = runtime.topics
        let worker = "bench-worker/host-1/0"

        func record(_ id: String, _ type: String, _ subject: String?, _ data: JSONValue, topic: String, key: String) -> OutgoingRecord {
            var record = runtime.event(id: id, component: "bench", type: type, subject: subject, data: data, time: now).record(topic: topic, key: key)
            record.timestamp = now
            return record
        }

        func input(_ event: EngineEvent, id: String, topic: String) {
            now = now.addingTimeInterval(0.001)
            let (type, data) = WireCodec.encode(event)
            let key = WireCodec.key(for: event)
            pending.append(record(id, type, key, data, topic: topic, key: key))
            written.inputs += 1
            for command in engine.apply(event, to: &state, now: now) {
                switch command {
                case .dispatch(let dispatch):
                    inFlight.append(dispatch.attempt)
                    pending.append(record("dispatch/\(dispatch.attempt)", EventType.taskDispatched, dispatch.attempt.description,
                                          WireCodec.encode(dispatch), topic: topics.taskCommands, key: dispatch.attempt.runID))
                    written.outputs += 1
                case .publish(let lifecycle):
                    if lifecycle.kind == .runSucceeded || lifecycle.kind == .runFailed { finishedRuns += 1 }
                    let (type, data) = WireCodec.encode(lifecycle)
                    let id = "\(lifecycle.kind.rawValue)/\(lifecycle.runID)/\(lifecycle.taskID ?? "-")/\(lifecycle.tryNumber ?? 0)"
                    pending.append(record(id, type, lifecycle.runID, data, topic: topics.runEvents, key: lifecycle.runID))
                    written.outputs += 1
                default: break
                }
            }
        }

        while written.inputs < target {
            // Keep a queue of requested runs ahead of the 64 running, as a backfill does.
            if written.requests - finishedRuns < 256 || head == inFlight.count {
                let logical = first.addingTimeInterval(Double(written.requests) * 3600)
                let request = RunRequest(runID: .scheduled(dagID: dag.id, logicalDate: logical), dagID: dag.id, logicalDate: logical, trigger: .backfill)
                written.requests += 1
                input(.runRequested(request), id: "backfill/\(request.runID)", topic: topics.runRequests)
            } else {
                let attempt = inFlight[head]
                head += 1
                input(.taskStarted(attempt, worker: worker), id: "started/\(attempt)/\(worker)", topic: topics.taskResults)
                input(.taskSucceeded(attempt, TaskSuccess()), id: "result/\(attempt)", topic: topics.taskResults)
            }
            if head > 4096 {
                inFlight.removeFirst(head)
                head = 0
                state.forgetFinishedRuns(keepingPerDag: 0)
            }
            if pending.count >= batch {
                _ = try await runtime.bus.publish(pending)
                pending.removeAll(keepingCapacity: true)
            }
        }
        if !pending.isEmpty { _ = try await runtime.bus.publish(pending) }
        return written
    }
}
