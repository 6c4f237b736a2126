#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// lockstep-bench: `lockstep-bench <selector>` runs the benchmarks whose name or group is <selector>
// (`bus`, `all`, or one bench such as `kafka`). Add a bench by adding a row to `benches`.

/// One benchmark: a name to run it by, the groups it belongs to, and its body (which prints its results).
struct Bench: Sendable {
    let name: String
    let groups: [String]
    let summary: String
    let run: @Sendable () async throws -> Void
}

let benches: [Bench] = [
    Bench(name: "embedded", groups: ["bus"], summary: "embedded log: publish→consume latency, bulk throughput",
          run: EmbeddedBench.run),
    Bench(name: "kafka", groups: ["bus"], summary: "KafkaBus beside raw librdkafka on a Tansu broker",
          run: KafkaBench.run),
    Bench(name: "floors", groups: ["pipeline", "bus"], summary: "one durable SQLite commit and one embedded publish→consume: what the figures are compared with",
          run: Floors.run),
    Bench(name: "pipeline-embedded", groups: ["pipeline"], summary: "components on the embedded log: task-to-task latency, throughput",
          run: PipelineBench.runEmbedded),
    Bench(name: "pipeline-kafka", groups: ["pipeline"], summary: "components on Kafka (Tansu): task-to-task latency, throughput",
          run: PipelineBench.runKafka),
    Bench(name: "training", groups: ["pipeline"], summary: "training pipeline trigger→finished against PostgreSQL and FastAPI",
          run: PipelineBench.runTraining),
    Bench(name: "memory", groups: ["pipeline"], summary: "resident memory of `lockstep standalone`",
          run: PipelineBench.runMemory),
    Bench(name: "backlog", groups: ["backlog"], summary: "`lockstep standalone` with 100 to 10,000 runs requested at once: tasks/s, another DAG's trigger→finished",
          run: BacklogBench.run),
    Bench(name: "rebuild", groups: ["rebuild"], summary: "lockstep rebuild of the run-state store from 1,000,000 events on the embedded log",
          run: RebuildBench.run),
    Bench(name: "codec", groups: ["engine"], summary: "one event's JSON parsed and printed: the direct codec beside Foundation's, and a record → CloudEvent",
          run: CodecBench.run),
    Bench(name: "engine", groups: ["engine"], summary: "Engine.reduce alone: cost of one step with 100, 1,000 and 10,000 runs held",
          run: EngineBench.run),
    Bench(name: "api", groups: ["api"], summary: "API server time with 10,000 runs in the store: runs list, one run",
          run: APIBench.run),
    Bench(name: "command", groups: ["operators"], summary: "ProcessGroup vs Foundation.Process spawn+wait, and a whole command task",
          run: CommandBench.run),
    Bench(name: "task-log", groups: ["operators"], summary: "a task printing 100,000 lines: lines/s stored, task-to-task latency of other runs beside it",
          run: TaskLogBench.run),
    Bench(name: "ui", groups: ["api"], summary: "web UI server time and size per page with 10,000 runs of 50 DAGs", run: UIBench.run),
]

let selector = CommandLine.arguments.dropFirst().first ?? "all"
let chosen = benches.filter { selector == "all" || $0.name == selector || $0.groups.contains(selector) }
if chosen.isEmpty {
    print("usage: lockstep-bench all | \(Set(benches.flatMap(\.groups)).sorted().joined(separator: " | ")) | "
        + benches.map(\.name).joined(separator: " | "))
    for bench in benches { print("  \(bench.name) [\(bench.groups.joined(separator: ","))]: \(bench.summary)") }
} else {
    for bench in chosen {
        print("== \(bench.name): \(bench.summary)")
        do {
            try await bench.run()
        } catch {
            print("!! \(bench.name) failed: \(error)")
        }
    }
}
