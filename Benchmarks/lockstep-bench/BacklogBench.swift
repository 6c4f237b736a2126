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
/// `BACKLOG_SIZES=3000` (comma-separated) picks other sizes, e.g. for a profile; the standalone's pid
/// is printed so `perf record -p` can attach.
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
    static let probeYAML = """
        id: \(probeDagID)
        max_active_runs: 16
        tasks:
          - {id: check_services, operator: noop}
          - {id: extract_data, operator: noop, upstream: [check_services], pool: ml_training_pool}
          - {id: sync_fastapi, operator: noop, upstream: [extract_data]}
          - {id: generate_report, operator: noop, upstream: [sync_fastapi]}
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
                    let probe = try await standalone.runToEnd(probeDagID)
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
        let port = try FreePort.next()
        let process = try ManagedProcess(name: "standalone", executable: binary.path, arguments: [
            "standalone", "--no-scheduler", "--config", TestPaths.packageRoot.appendingPathComponent("config/lockstep.yaml").path,
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
    func runToEnd(_ dagID: String) async throws -> Duration {
        let started = ContinuousClock.now
        let id = try await trigger(dagID)
        while try await runtime.store.run(id)?.state.isTerminal != true {
            guard process.isRunning else { throw BenchError("standalone exited:\n\(process.log.suffix(2000))") }
            try await Task.sleep(for: BacklogBench.pollInterval)
        }
        return ContinuousClock.now - started
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
