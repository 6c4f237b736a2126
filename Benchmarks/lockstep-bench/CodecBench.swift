import Foundation
import LockstepBus
import LockstepCore

/// The JSON of one event, parsed and printed: Lockstep's direct codec beside Foundation's
/// `JSONDecoder`/`JSONEncoder` over `JSONValue`'s `Codable` conformance (what the bus used before),
/// and a whole record decoded into a `CloudEvent`. Every record a component consumes is parsed once
/// and every one it publishes printed once, so these are per-transition costs.
enum CodecBench {
    static let rounds = 2_000
    static let batch = 20

    /// An attempt.succeeded's data as a worker publishes it, with a small output.
    static let attemptSucceeded: JSONValue = [
        "run_id": "backfill_bench~scheduled__2025-01-01T00:00:00Z", "dag_id": "backfill_bench", "task_id": "t3", "try_number": 1,
        "worker": "worker-1/standalone-4c1e", "at": "2026-12-07T14:31:07.123Z", "duration_ms": 12, "skipped": false,
        "output": ["rows": 1204, "path": "/var/lib/lockstep/out/part-0003.parquet", "ratio": 0.8125, "tags": ["a", "b"]],
        "warnings": [],
    ]

    static func run() async throws {
        let text = attemptSucceeded.canonicalJSON()
        let bytes = Array(text.utf8)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let decoder = JSONDecoder()
        let record = BusRecord(
            position: RecordPosition(topic: "lockstep.tasks.results", partition: 0, offset: 0), key: "k", value: bytes,
            headers: CloudEvent(id: "e", source: "lockstep/worker/1", type: "lockstep.attempt.succeeded", time: Date(), data: attemptSucceeded)
                .record(topic: "lockstep.tasks.results", key: "k").headers,
            timestamp: Date())

        print("one attempt.succeeded's data, \(bytes.count) bytes; µs per operation, \(rounds) samples of \(batch)")
        print("| operation | p50 | p99 |")
        print("| --- | ---: | ---: |")
        let parse = measure { _ = try? JSONValue.parse(utf8: bytes) }
        let decode = measure { _ = try? decoder.decode(JSONValue.self, from: Data(bytes)) }
        let print1 = measure { _ = attemptSucceeded.canonicalJSONBytes() }
        let encode = measure { _ = try? encoder.encode(attemptSucceeded) }
        let event = measure { _ = try? CloudEvent(record) }
        row("parse (`JSONValue.parse`)", parse)
        row("parse (Foundation `JSONDecoder`)", decode)
        row("print (`canonicalJSONBytes`)", print1)
        row("print (Foundation `JSONEncoder`, sorted keys)", encode)
        row("a whole record → `CloudEvent` (headers + parse)", event)
        print(String(format: "ratio Foundation / direct, p50: parse ×%.1f, print ×%.1f", decode.p50 / parse.p50, encode.p50 / print1.p50))

        // The state store's document for a finished five-task run (what a rebuild writes 91,136 of,
        // and a commit writes for every run it touched).
        let run = finishedRun()
        let generic = measure { _ = try? JSONValueEncoder().encode(run).canonicalJSON() }
        let direct = measure { _ = run.canonicalJSON() }
        print("a finished five-task run's store document, \(run.canonicalJSON().utf8.count) bytes:")
        row("`JSONValueEncoder` + `canonicalJSON()`", generic)
        row("printed directly (`DagRun.canonicalJSON()`)", direct)
        print(String(format: "ratio generic / direct, p50: ×%.1f", generic.p50 / direct.p50))
    }

    /// A run of the rebuild bench's five-task DAG, every task started and succeeded in turn.
    static func finishedRun() -> DagRun {
        let engine = Engine(dags: [RebuildBench.dag], config: .empty)
        var state = EngineState()
        var now = RebuildBench.first
        let request = RunRequest(runID: "codec/run", dagID: RebuildBench.dag.id, logicalDate: now, trigger: .backfill)
        var dispatched = engine.apply(.runRequested(request), to: &state, now: now)
        while let command = dispatched.first {
            dispatched.removeFirst()
            guard case .dispatch(let dispatch) = command else { continue }
            now = now.addingTimeInterval(0.25)
            dispatched += engine.apply(.taskStarted(dispatch.attempt, worker: "worker-1/host"), to: &state, now: now)
            now = now.addingTimeInterval(0.5)
            dispatched += engine.apply(.taskSucceeded(dispatch.attempt, TaskSuccess()), to: &state, now: now)
        }
        return state.runs[request.runID]!
    }

    static func row(_ name: String, _ figures: (p50: Double, p99: Double)) {
        print(String(format: "| %@ | %.2f µs | %.2f µs |", name, figures.p50, figures.p99))
    }

    /// Each sample times `batch` calls (one call is too short for the clock); warmed up first.
    static func measure(_ body: () -> Void) -> (p50: Double, p99: Double) {
        for _ in 0..<(rounds / 10) { body() }
        var samples: [Double] = []
        samples.reserveCapacity(rounds)
        let clock = ContinuousClock()
        for _ in 0..<rounds {
            let elapsed = clock.measure { for _ in 0..<batch { body() } }
            samples.append(elapsed.milliseconds * 1000 / Double(batch))
        }
        return PipelineBench.percentiles(samples)
    }
}
