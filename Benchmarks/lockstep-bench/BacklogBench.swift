import Foundation
import LockstepBus
import LockstepCore
import LockstepServices
import LockstepTestSupport
import LockstepWire

/// Issue 15's backlog, as an operator meets it: a real `lockstep standalone` process (release build,
/// embedded log, SQLite state, API on, four worker slots), a DAG of five no-op tasks with
/// `max_active_runs: 64`, and a backfill of hourly runs requested at once (published as run requests
/// in batches, as `lockstep backfill` does, from this process onto the standalone's log). For 100,
/// 1,000, 3,000 and 10,000 runs, each on a fresh standalone: tasks finished per second from the first
/// request to the last run finished. During the largest backlog, runs of another DAG (the integration
/// pipeline's shape: four no-op tasks in a chain) are triggered one after another and timed trigger →
/// finished, beside the same on the idle system just before the backlog.
///
/// The standalone keeps its default dispatch window (twice its four worker slots, so the probe's tasks
/// are not queued behind the backlog's); `BACKLOG_DISPATCH_WINDOW=N` sets another, 0 none, as before
/// the window. `BACKLOG_SIZES=3000` (comma-separated) picks other sizes, e.g. for a profile; the
/// standalone's pid is printed so `perf record -p` can attach.
enum BacklogBench {
    static let dagID = "backfill_five"
    static let probeDagID = "probe_integration"
    static let probeSamples = 10
    static let publishBatch = 500
    /// Run state is polled at this interval (trigger → finished carries up to this much resolution).
    static let pollInterval = Duration.milliseconds(2)

    static let dagYAML = """
        id: \(dagID)
        max_active_runs: 64
        tasks:
          - {id: a, operator: noop}
          - {id: b, operator: noop, upstream: [a]}
          - {id: c, operator: noop, upstream: [a]}
          - {id: d, operator: noop, upstream: [b, c]}
          - {id: e, operator: noop, upstream: [d]}
        """
    /// The probe's chain, in order: the integration pipeline's task names.
    static let probeChain = ["check_services", "extract_data", "sync_fastapi", "generate_report"]
    static let probeYAML = """
        id: \(probeDagID)
        max_active_runs: 16
        tasks:
          - {id: \(probeChain[0]), operator: noop}
          - {id: \(probeChain[1]), operator: noop, upstream: [\(probeChain[0])], pool: ml_training_pool}
          - {id: \(probeChain[2]), operator: noop, upstream: [\(probeChain[1])]}
          - {id: \(probeChain[3]), operator: noop, upstream: [\(probeChain[2])]}
        """

    struct Row {
        var runs: Int
        var seconds: Double
        var cpuSeconds: Double
        var rssMB: Double
        var tasksPerSecond: Double { Double(runs * 5) / seconds }
    }

    static var sizes: [Int] {
        let given = ProcessInfo.processInfo.environment["BACKLOG_SIZES"]?.split(separator: ",").compactMap { Int($0) } ?? []
        return given.isEmpty ? [100, 1_000, 3_000, 10_000] : given
    }

    static func run() async throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lockstep")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            print("skipped: build the lockstep product first (`swift build -c release --product lockstep`)")
            return
        }
        let floors = try await Floors.measured()
        let largest = sizes.max() ?? 0
        var rows: [Row] = []
        var idle: [Double] = []
        var busy: [Double] = []
        var busyAfterBacklog = 0
        var breakdowns: [ProbeBreakdown] = []
        for size in sizes {
            let standalone = try await Standalone.start(binary: binary, dags: [dagYAML, probeYAML])
            defer { standalone.stop() }
            print("  \(size) runs: standalone pid \(standalone.process.pid)")
            // Warm-up: the first run of each DAG pays for group joins and first statements.
            _ = try await standalone.runToEnd(probeDagID)
            if size == largest {
                for _ in 0..<probeSamples { idle.append(try await standalone.runToEnd(probeDagID).ms) }
            }
            let cpuBefore = standalone.cpuSeconds()
            let started = ContinuousClock.now
            let ids = try await standalone.requestBackfill(dagID, runs: size)
            var finishedUpTo = 0
            if size == largest {
                // Probe runs one after another while the backlog is unfinished.
                while busy.count < probeSamples {
                    let (probe, breakdown) = try await standalone.runToEndWithBreakdown(probeDagID)
                    breakdowns.append(breakdown)
                    finishedUpTo = try await standalone.finishedPrefix(ids, from: finishedUpTo)
                    busy.append(probe.ms)
                    if finishedUpTo == ids.count { busyAfterBacklog += 1 }
                }
            }
            try await standalone.waitForAll(ids, from: finishedUpTo)
            let seconds = (ContinuousClock.now - started).ms / 1000
            let row = Row(runs: size, seconds: seconds, cpuSeconds: standalone.cpuSeconds() - cpuBefore, rssMB: PipelineBench.rss(standalone.process.pid).current)
            rows.append(row)
            print(String(format: "  %6d runs × 5 tasks in %.1f s: %.0f tasks/s (standalone CPU %.2f ms per task, RSS %.1f MB)",
                         size, seconds, row.tasksPerSecond, row.cpuSeconds * 1000 / Double(size * 5), row.rssMB))
            try await standalone.close()
        }

        print("")
        print("| runs requested at once | tasks finished per second | task transitions/s | vs 100 runs | standalone CPU per task |")
        print("| ---: | ---: | ---: | ---: | ---: |")
        let base = rows.first?.tasksPerSecond ?? 1
        for row in rows {
            print(String(format: "| %d | %.0f | %.0f | %.2f× | %.2f ms |", row.runs, row.tasksPerSecond, row.tasksPerSecond * 3,
                         row.tasksPerSecond / base, row.cpuSeconds * 1000 / Double(row.runs * 5)))
        }
        if let first = rows.first, let last = rows.last, first.runs != last.runs {
            let change = (last.tasksPerSecond / first.tasksPerSecond - 1) * 100
            print(String(format: "tasks/s at %d runs vs %d: %+.0f%% (goal: within ±20%%)", last.runs, first.runs, change))
        }
        if let last = rows.last {
            print("tasks/s at \(last.runs) runs: " + floors.ratios(perSecond: last.tasksPerSecond * 3))
        }
        if !idle.isEmpty {
            let (i50, i99) = PipelineBench.percentiles(idle)
            let (b50, b99) = PipelineBench.percentiles(busy)
            print(String(format: "another DAG (4 no-op tasks in a chain) trigger→finished, %d samples each, polled every %d ms:",
                         probeSamples, Int(pollInterval.ms)))
            print(String(format: "  idle p50 %.1f ms (p99 %.1f); during the %d-run backlog p50 %.1f ms (p99 %.1f): %.2f× idle",
                         i50, i99, largest, b50, b99, b50 / i50))
            print("  idle p50: " + floors.ratios(ms: i50))
            if busyAfterBacklog > 0 { print("  (\(busyAfterBacklog) of the backlog samples finished after the backlog had drained)") }
            if !breakdowns.isEmpty { print("  during the backlog, p50 of each part over its four tasks: " + ProbeBreakdown.summary(breakdowns)) }
        }
    }
}

/// A `lockstep standalone` child process on its own data directory, and this process's handles on
/// the same embedded log and SQLite store to publish requests and read run state.
final class Standalone: Sendable {
    let process: ManagedProcess
    let directory: URL
    let runtime: Runtime

    private init(process: ManagedProcess, directory: URL, runtime: Runtime) {
        self.process = process
        self.directory = directory
        self.runtime = runtime
    }

    static func start(binary: URL, dags: [String], extraArguments: [String] = []) async throws -> Standalone {
        let directory = try TestPaths.temporaryDirectory("lockstep-bench-standalone")
        let dagsDir = directory.appendingPathComponent("dags")
        try FileManager.default.createDirectory(at: dagsDir, withIntermediateDirectories: true)
        for (i, yaml) in dags.enumerated() {
            try yaml.write(to: dagsDir.appendingPathComponent("dag\(i).yaml"), atomically: true, encoding: .utf8)
        }
        // The repository's config; `BACKLOG_DISPATCH_WINDOW=N` sets the dispatch window (the standalone's
        // default is twice its four worker slots, 8), and 0 one no backlog fills: every ready task
        // dispatched at once, as before the window existed.
        var config = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("config/lockstep.yaml"), encoding: .utf8)
        if let window = Int(ProcessInfo.processInfo.environment["BACKLOG_DISPATCH_WINDOW"] ?? "") {
            config += "\ndispatch_window: \(window > 0 ? window : 1_000_000)\n"
        }
        let configFile = directory.appendingPathComponent("lockstep.yaml")
        try config.write(to: configFile, atomically: true, encoding: .utf8)
        let port = try FreePort.next()
        let process = try ManagedProcess(name: "standalone", executable: binary.path, arguments: [
            "standalone", "--no-scheduler", "--config", configFile.path,
            "--dags", dagsDir.path, "--data-dir", directory.appendingPathComponent("data").path, "--log-level", "warning",
            "--http", "127.0.0.1:\(port)",
        ] + extraArguments, environment: ["LOCKSTEP_ADMIN_PASSWORD": "bench-\(UUID().uuidString)"])
        do { try await process.waitUntilAccepting(port: port) } catch {
            process.stop()
            throw error
        }
        let data = directory.appendingPathComponent("data")
        let bus = try EmbeddedBus(directory: data)
        let store = try await StateStore(.sqlite(path: data.appendingPathComponent("state.sqlite").path))
        return Standalone(process: process, directory: directory, runtime: Runtime(bus: bus, store: store, dags: [], config: .empty))
    }

    /// One run request; returns once it is durable on the log.
    func trigger(_ dagID: String) async throws -> RunID {
        let key = UUID().uuidString
        let event = runtime.event(id: key, component: "bench", type: EventType.runRequested,
                                  data: ["dag_id": .string(dagID), "idempotency_key": .string(key)])
        try await runtime.publish(event, to: runtime.topics.runRequests, key: dagID)
        return .requested(dagID: dagID, idempotencyKey: key)
    }

    /// Trigger and wait until the store shows the run finished; the wall time between.
    func runToEnd(_ dagID: String) async throws -> Duration { try await runToEndWithBreakdown(dagID).0 }

    /// Trigger → finished, and where the run's time went by its own timestamps (record times: the
    /// publishers' clocks, all on this machine).
    func runToEndWithBreakdown(_ dagID: String) async throws -> (Duration, ProbeBreakdown) {
        let started = ContinuousClock.now
        let id = try await trigger(dagID)
        while true {
            if let run = try await runtime.store.run(id), run.state.isTerminal {
                return (ContinuousClock.now - started, ProbeBreakdown(run))
            }
            guard process.isRunning else { throw BenchError("standalone exited:\n\(process.log.suffix(2000))") }
            try await Task.sleep(for: BacklogBench.pollInterval)
        }
    }

    /// Hourly runs as `lockstep backfill` asks for them (run id `dag@logical-date`, trigger backfill),
    /// published in batches.
    func requestBackfill(_ dagID: String, runs: Int) async throws -> [RunID] {
        let first = ISO8601.parse("2024-01-01T00:00:00Z")!
        let requests = (0..<runs).map { i in
            let logical = first.addingTimeInterval(Double(i) * 3600)
            return RunRequest(runID: .scheduled(dagID: dagID, logicalDate: logical), dagID: dagID, logicalDate: logical, trigger: .backfill)
        }
        for start in stride(from: 0, to: requests.count, by: BacklogBench.publishBatch) {
            let records = requests[start..<min(start + BacklogBench.publishBatch, requests.count)].map { request in
                runtime.stamped(runtime.event(id: "backfill/\(request.runID)", component: "bench", type: EventType.runRequested,
                                              subject: dagID, data: WireCodec.encodeRunRequest(request))
                    .record(topic: runtime.topics.runRequests, key: dagID))
            }
            _ = try await runtime.bus.publish(records)
        }
        return requests.map(\.runID)
    }

    /// How many of `ids`, in order, have finished (the backlog runs finish roughly in request order).
    func finishedPrefix(_ ids: [RunID], from start: Int) async throws -> Int {
        var index = start
        while index < ids.count, try await runtime.store.run(ids[index])?.state.isTerminal == true { index += 1 }
        return index
    }

    func waitForAll(_ ids: [RunID], from start: Int) async throws {
        var index = start
        while index < ids.count {
            index = try await finishedPrefix(ids, from: index)
            if index < ids.count {
                guard process.isRunning else { throw BenchError("standalone exited:\n\(process.log.suffix(2000))") }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// User + system CPU of the standalone so far (/proc/PID/stat, clock ticks of 1/100 s).
    func cpuSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.pid)/stat", encoding: .utf8),
              let nameEnd = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: nameEnd)...].split(separator: " ")
        // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func close() async throws {
        await runtime.bus.close()
        await runtime.store.close()
        stop()
    }

    func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

extension Duration {
    var ms: Double { milliseconds }
}

/// Where a probe run's time went, summed over its tasks, from the run's own timestamps. (A request's
/// wait on the requests topic does not show: a run's requested and started times are both the
/// request record's time.)
struct ProbeBreakdown {
    /// Upstream finished (or run started) → dispatched: waiting for a place in the window or the pool.
    var toDispatch: Double = 0
    /// Dispatched → started on a worker: the command's commit and publish, the commands topic, the claim.
    var toWorker: Double = 0
    /// Started → finished on the worker, and the last task's finish → run finished.
    var running: Double = 0

    init(_ run: DagRun) {
        func ms(_ from: Date?, _ to: Date?) -> Double { from.flatMap { f in to.map { $0.timeIntervalSince(f) * 1000 } } ?? 0 }
        var ready = run.startedAt
        for id in BacklogBench.probeChain {
            guard let attempt = run.tasks[id]?.attempts.last else { continue }
            toDispatch += ms(ready, attempt.scheduledAt)
            toWorker += ms(attempt.scheduledAt, attempt.startedAt)
            running += ms(attempt.startedAt, attempt.finishedAt)
            ready = attempt.finishedAt
        }
        running += ms(ready, run.finishedAt)
    }

    static func summary(_ all: [ProbeBreakdown]) -> String {
        func p50(_ part: (ProbeBreakdown) -> Double) -> String { String(format: "%.1f ms", PipelineBench.percentiles(all.map(part)).0) }
        return "ready → dispatched \(p50(\.toDispatch)), "
            + "dispatched → started on a worker \(p50(\.toWorker)), running and finishing \(p50(\.running))"
    }
}
