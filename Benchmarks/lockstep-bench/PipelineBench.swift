import Foundation
import LockstepBus
import LockstepCore
import LockstepKafka
import LockstepOperators
import LockstepServices
import LockstepTestSupport
import LockstepWire
import Logging
import ServiceLifecycle

/// The components together: task-to-task latency, throughput of many concurrent runs of no-op tasks,
/// trigger→finished of the real training pipeline, and the resident memory of `lockstep standalone`.
/// For scale, Airflow 2.10.5 (LocalExecutor) on this machine: 0.73 s between tasks (median), 5.9 s
/// trigger→finished, a 139 MB scheduler plus 32 worker processes.
enum PipelineBench {
    static let chainLength = 10
    static let sequentialRuns = 30
    static let concurrentRuns = 200

    static func runEmbedded() async throws {
        let system = try await BenchSystem.start(bus: .embedded)
        defer { Task { await system.stop() } }
        try await measure(system, label: "embedded", concurrent: concurrentRuns)
        await system.stop()
    }

    static func runKafka() async throws {
        guard let tansu = BenchSystem.tansuPath else { print("skipped: tansu is not on PATH"); return }
        let broker = try BenchBroker(tansu: tansu)
        defer { broker.stop() }
        let system = try await BenchSystem.start(bus: .kafka("127.0.0.1:\(broker.port)"))
        try await measure(system, label: "kafka (Tansu, fetch.wait.max.ms=10)", concurrent: 50)
        await system.stop()
    }

    static func measure(_ system: BenchSystem, label: String, concurrent: Int) async throws {
        // Warm up: group joins, first-time topic creation.
        _ = try await system.runToEnd("chain")
        var gaps: [(coordinator: Double, worker: Double)] = []
        var triggerToFinished: [Double] = []
        for _ in 0..<sequentialRuns {
            let started = ContinuousClock.now
            let runID = try await system.runToEnd("chain")
            triggerToFinished.append((ContinuousClock.now - started).milliseconds)
            gaps += try await system.taskToTaskGaps(runID)
        }
        let (p50, p99) = percentiles(gaps.map { $0.coordinator + $0.worker })
        let (c50, _) = percentiles(gaps.map(\.coordinator))
        let (w50, _) = percentiles(gaps.map(\.worker))
        print(String(format: "%@: task-to-task (attempt.succeeded → next attempt.started) p50 %.2f ms, p99 %.2f ms over %d gaps", label, p50, p99, gaps.count))
        print(String(format: "%@:   of which result → next command published (coordinator) p50 %.2f ms; command → started (worker: consume, claim, publish) p50 %.2f ms",
                     label, c50, w50))
        let floors = try await Floors.measured()
        print("\(label):   task-to-task p50 = " + floors.ratios(ms: p50, embedded: !label.hasPrefix("kafka")))
        let (t50, t99) = percentiles(triggerToFinished)
        print(String(format: "%@: trigger→finished, %d no-op tasks in a chain: p50 %.1f ms, p99 %.1f ms", label, chainLength, t50, t99))

        let start = ContinuousClock.now
        var ids: [RunID] = []
        for _ in 0..<concurrent { ids.append(try await system.trigger("wide")) }
        for id in ids { _ = try await system.waitForRun(id) }
        let seconds = (ContinuousClock.now - start).milliseconds / 1000
        let tasks = Double(concurrent * 5)
        // Each task passes scheduled → running → succeeded: three transitions the coordinator applies.
        print(String(format: "%@: %d concurrent runs × 5 no-op tasks in %.2f s: %.0f tasks/s, %.0f task transitions/s",
                     label, concurrent, seconds, tasks / seconds, tasks * 3 / seconds))
        print("\(label):   transitions/s: " + floors.ratios(perSecond: tasks * 3 / seconds))
    }

    /// The real training pipeline against a throwaway PostgreSQL and the reference FastAPI service.
    static func runTraining() async throws {
        let cluster = try await PostgresCluster.start()
        defer { cluster.stop() }
        let fastapi = try await FastAPIService.start()
        defer { fastapi.stop() }
        let root = TestPaths.packageRoot
        var config = try DeploymentFiles.readConfig(root.appendingPathComponent("config/lockstep.yaml"))
        config.variables["FASTAPI_BASE_URL"] = fastapi.baseURL
        config.variables["ML_DIR"] = root.appendingPathComponent("ml").path
        config.connections["noblestride_postgres"] = cluster.uri()
        let dags = try DeploymentFiles.readDags(root.appendingPathComponent("config/dags"), config: config, registry: .allPacks)
            .map { dag in var d = dag; d.maxActiveRuns = 1; return d }
        let system = try await BenchSystem.start(bus: .embedded, dags: dags, config: config)
        _ = try await system.runToEnd("recommender_training_pipeline")
        var samples: [Double] = []
        for _ in 0..<20 {
            let started = ContinuousClock.now
            let runID = try await system.runToEnd("recommender_training_pipeline")
            samples.append((ContinuousClock.now - started).milliseconds)
            guard try await system.watcher.run(runID)?.state == .succeeded else { throw BenchError("training run \(runID) failed") }
        }
        await system.stop()
        let (p50, p99) = percentiles(samples)
        print(String(format: "embedded: training pipeline trigger→finished (5 tasks, PostgreSQL + FastAPI): p50 %.1f ms, p99 %.1f ms (Airflow: 5900 ms, %.0f× faster)",
                     p50, p99, 5900 / p50))
        print("embedded:   training p50 = " + (try await Floors.measured()).ratios(ms: p50))
    }

    /// `lockstep standalone` as its own process, API on: resident memory idle, then after 100, 1,000,
    /// 10,000 and every further 10,000 up to 50,000 runs of a one-task DAG, each step requested at
    /// once (finished runs leave the coordinator's memory: the figure should stay flat, within 10 MB
    /// from 100 to 10,000).
    static func runMemory() async throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lockstep")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            print("skipped: build the lockstep product first (`swift build -c release --product lockstep`)")
            return
        }
        let dir = try TestPaths.temporaryDirectory("lockstep-bench-rss")
        defer { try? FileManager.default.removeItem(at: dir) }
        let dagsDir = dir.appendingPathComponent("dags")
        try FileManager.default.createDirectory(at: dagsDir, withIntermediateDirectories: true)
        try "id: small\ntasks:\n  - {id: only, operator: noop}\n".write(to: dagsDir.appendingPathComponent("small.yaml"), atomically: true, encoding: .utf8)
        let port = try FreePort.next()
        let process = try ManagedProcess(name: "standalone", executable: binary.path, arguments: [
            "standalone", "--no-scheduler", "--config", TestPaths.packageRoot.appendingPathComponent("config/lockstep.yaml").path,
            "--dags", dagsDir.path, "--data-dir", dir.appendingPathComponent("data").path, "--log-level", "warning",
            "--http", "127.0.0.1:\(port)",
        ], environment: ["LOCKSTEP_ADMIN_PASSWORD": "bench-\(UUID().uuidString)"])
        defer { process.stop() }
        try await process.waitUntilAccepting(port: port)
        try await Task.sleep(for: .seconds(2))  // a bench, not a test: let start-up allocations settle
        let idle = rss(process.pid)
        print(String(format: "  idle, API on:      %7.1f MB (heap and stacks %.1f MB, mapped files %.1f MB)", idle.current, idle.anonymous, idle.file))
        let bus = try EmbeddedBus(directory: dir.appendingPathComponent("data"))
        let store = try await StateStore(.sqlite(path: dir.appendingPathComponent("data/state.sqlite").path))
        let runtime = Runtime(bus: bus, store: store, dags: [], config: .empty)
        var requested = 0
        var figures: [Int: Double] = [:]
        // Bursts of at most 10,000 runs: past 10,000 the figure shows growth with the runs done, not
        // with the size of one burst.
        for target in [100, 1_000, 10_000, 20_000, 30_000, 40_000, 50_000] {
            let started = ContinuousClock.now
            var ids: [RunID] = []
            while requested < target {
                let event = runtime.event(id: "rss-\(requested)", component: "bench", type: EventType.runRequested, data: ["dag_id": "small"])
                try await runtime.publish(event, to: runtime.topics.runRequests, key: "small")
                ids.append("small~rss-\(requested)")
                requested += 1
            }
            for id in ids {
                while try await store.run(id)?.state.isTerminal != true { try await Task.sleep(for: .milliseconds(20)) }
            }
            let seconds = (ContinuousClock.now - started).timeInterval
            // At rest: the process hands freed memory back within a second or two (`HeapTrimmer`).
            try await Task.sleep(for: .seconds(2))
            let now = rss(process.pid)
            figures[target] = now.current
            print(String(format: "  after %6d runs, 2 s later: %7.1f MB (peak %.1f MB; heap and stacks %.1f MB, mapped files %.1f MB; %d runs in %.1f s)",
                         target, now.current, now.peak, now.anonymous, now.file, ids.count, seconds))
        }
        if let first = figures[100], let last = figures[10_000] {
            print(String(format: "  10,000 runs − 100 runs: %+.1f MB (goal: within 10 MB)", last - first))
        }
        if let first = figures[10_000], let last = figures[50_000] {
            print(String(format: "  50,000 runs − 10,000 runs: %+.1f MB (four more bursts of 10,000)", last - first))
        }
        await bus.close()
        await store.close()
    }

    static func rss(_ pid: Int32) -> (current: Double, peak: Double, anonymous: Double, file: Double) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
        }
        return (field("VmRSS"), field("VmHWM"), field("RssAnon"), field("RssFile") + field("RssShmem"))
    }

    static func percentiles(_ samples: [Double]) -> (Double, Double) {
        guard !samples.isEmpty else { return (0, 0) }
        let sorted = samples.sorted()
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))])
    }
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}

/// Coordinator, workers and notifier in this process, on the embedded log or Kafka.
final class BenchSystem: Sendable {
    enum BusKind { case embedded, kafka(String) }
    let runtime: Runtime
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let directory: URL
    /// Where the bench watches runs: a connection and thread of its own, as the API or the CLI
    /// would. Polling through the components' store would queue the bench's reads (every
    /// millisecond) on the thread that runs the coordinator's commits and the workers' claims.
    let watcher: StateStore

    static let wideYAML = """
        id: wide
        max_active_runs: 1000
        tasks:
          - {id: a, operator: noop}
          - {id: b, operator: noop, upstream: [a]}
          - {id: c, operator: noop, upstream: [a]}
          - {id: d, operator: noop, upstream: [b, c]}
          - {id: e, operator: noop, upstream: [d]}
        """

    static var tansuPath: String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/tansu" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private init(runtime: Runtime, group: ServiceGroup, task: Task<Void, any Error>, directory: URL, watcher: StateStore) {
        self.runtime = runtime
        self.group = group
        self.task = task
        self.directory = directory
        self.watcher = watcher
    }

    /// `dags` replaces the `chain` and `wide` DAGs, `extraDags` goes beside them; `taskLog` is the
    /// workers' per-attempt log caps.
    static func start(bus kind: BusKind, dags: [DagSpec]? = nil, extraDags: [DagSpec] = [], config: LockstepConfig = .empty,
                      taskLog: TaskLog.Limits = TaskLog.Limits()) async throws -> BenchSystem {
        let directory = try TestPaths.temporaryDirectory("lockstep-bench")
        let chain = DagSpec(id: "chain", maxActiveRuns: 1, tasks: (0..<PipelineBench.chainLength).map {
            TaskSpec(id: "t\($0)", operator: "noop", upstream: $0 == 0 ? [] : ["t\($0 - 1)"])
        })
        let wide = try ConfigLoader.parseDag(wideYAML, file: "wide.yaml", config: config, operators: OperatorRegistry.allPacks.names)
        let bus: any EventBus
        switch kind {
        case .embedded: bus = try EmbeddedBus(directory: directory)
        case .kafka(let servers):
            bus = try KafkaBus(config: KafkaConfig(bootstrapServers: [servers], properties: [
                "session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "fetch.wait.max.ms": "10", "linger.ms": "0",
            ]))
        }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let runtime = Runtime(
            bus: bus, store: try await StateStore(.sqlite(path: directory.appendingPathComponent("state.sqlite").path)),
            // Every pack: the training pipeline's domain operators run here, and the coordinator reads
            // from the registry that `notify_training_complete` goes to the notifier.
            dags: (dags ?? [chain, wide]) + extraDags, config: config, registry: .allPacks, logger: logger)
        try await runtime.createTopics()
        let options = Worker.Options(concurrency: 4, dataDirectory: directory, reportsDirectory: directory, taskLog: taskLog)
        let group = ServiceGroup(services: [
            Coordinator(runtime: runtime), Worker(runtime: runtime, options: options),
            Worker(runtime: runtime, options: .notifier(dataDirectory: directory, reportsDirectory: directory)),
        ], logger: logger)
        let task = Task { try await group.run() }
        let watcher = try await StateStore(.sqlite(path: directory.appendingPathComponent("state.sqlite").path))
        return BenchSystem(runtime: runtime, group: group, task: task, directory: directory, watcher: watcher)
    }

    func trigger(_ dagID: String) async throws -> RunID {
        let id = UUID().uuidString
        let event = runtime.event(id: id, component: "bench", type: EventType.runRequested, data: ["dag_id": .string(dagID)])
        try await runtime.publish(event, to: runtime.topics.runRequests, key: dagID)
        return "\(dagID)~\(id)"
    }

    func waitForRun(_ id: RunID) async throws -> DagRun {
        while true {
            if let run = try await watcher.run(id), run.state.isTerminal { return run }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    func runToEnd(_ dagID: String) async throws -> RunID {
        let id = try await trigger(dagID)
        _ = try await waitForRun(id)
        return id
    }

    /// For each task after the first, from record times: the previous task's attempt.succeeded → this
    /// task's command published (the coordinator's share) → this task's attempt.started (the worker's).
    func taskToTaskGaps(_ runID: RunID) async throws -> [(coordinator: Double, worker: Double)] {
        var succeeded: [String: Date] = [:]
        var started: [String: Date] = [:]
        var dispatched: [String: Date] = [:]
        for topic in [runtime.topics.taskResults, runtime.topics.taskCommands] {
            for record in try await runtime.bus.read(topic: topic, from: .beginning, to: .latest).readAll() where record.key == runID {
                guard let event = try? CloudEvent(record), let task = event.data?["task_id"]?.stringValue else { continue }
                if event.type == EventType.attemptSucceeded { succeeded[task] = record.timestamp }
                if event.type == EventType.attemptStarted { started[task] = started[task] ?? record.timestamp }
                if event.type == EventType.taskDispatched { dispatched[task] = dispatched[task] ?? record.timestamp }
            }
        }
        return (1..<PipelineBench.chainLength).compactMap { i in
            guard let done = succeeded["t\(i - 1)"], let command = dispatched["t\(i)"], let next = started["t\(i)"] else { return nil }
            return (command.timeIntervalSince(done) * 1000, next.timeIntervalSince(command) * 1000)
        }
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        await runtime.bus.close()
        await watcher.close()
        await runtime.store.close()
        try? FileManager.default.removeItem(at: directory)
    }
}
