import Foundation
import LockstepCore
import LockstepOperators

/// What running a program costs: `ProcessGroup` (posix_spawn into its own group, both pipes polled,
/// group reaped) beside Foundation's `Process` in a loop, and a whole `command` task (attempt directory,
/// inputs file, environment, spawn, output file, task log) around the same program.
enum CommandBench {
    static let rounds = 300
    static let warmup = 30

    static func run() async throws {
        let program = "/bin/true"
        let spawned = try await measure { () async throws in
            let group = try ProcessGroup.spawn(ProcessGroup.Launch(
                executable: program, arguments: [program], environment: ["PATH=/usr/bin:/bin"], workingDirectory: "/tmp")) { _, _ in }
            let outcome = await group.run(deadline: .now + .seconds(30), grace: .seconds(1))
            guard outcome.exit == .exited(0) else { throw BenchError("\(program) \(outcome.exit)") }
        }
        let foundation = try await measure { () async throws in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: program)
            process.environment = ["PATH": "/usr/bin:/bin"]
            process.standardOutput = Pipe()
            process.standardError = Pipe()
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw BenchError("\(program) exited \(process.terminationStatus)") }
        }
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("lockstep-bench-command-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: data) }
        let registry = OperatorRegistry(packs: [])
        let sink = InMemoryTaskLogSink()
        var tryNumber = 0
        let task = try await measure { () async throws in
            tryNumber += 1
            let log = TaskLog(attempt: AttemptID(runID: "bench", taskID: "true", tryNumber: tryNumber), sink: sink)
            let context = OperatorContext(
                dagID: "bench", runID: "bench", taskID: "true", tryNumber: tryNumber, logicalDate: Date(),
                params: ["argv": [.string(program)]], deadline: .now + .seconds(30), dataDirectory: data,
                reportsDirectory: data, log: log)
            let result = await registry.run("command", context)
            await log.finish()
            if case .failure(let error) = result { throw BenchError("command task failed: \(error)") }
        }
        report("ProcessGroup spawn+wait \(program)", spawned)
        report("Foundation.Process run+wait \(program)", foundation)
        report("command task start→result \(program)", task)
        let (p50g, p99g) = (percentile(spawned, 0.5), percentile(spawned, 0.99))
        let (p50f, p99f) = (percentile(foundation, 0.5), percentile(foundation, 0.99))
        let p50t = percentile(task, 0.5)
        print(String(format: "ratio ProcessGroup/Foundation.Process: p50 %.2f, p99 %.2f; command task/ProcessGroup p50 %.2f",
                     p50g / p50f, p99g / p99f, p50t / p50g))
    }

    /// Seconds per round, warm-up rounds dropped.
    private static func measure(_ body: () async throws -> Void) async throws -> [Double] {
        var samples: [Double] = []
        for round in 0..<(rounds + warmup) {
            let start = ContinuousClock.now
            try await body()
            if round >= warmup { samples.append((ContinuousClock.now - start).seconds) }
        }
        return samples.sorted()
    }

    private static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
    }

    private static func report(_ name: String, _ sorted: [Double]) {
        print(String(format: "%@: n=%d p50=%.3f ms p90=%.3f ms p99=%.3f ms max=%.3f ms", name, sorted.count,
                     percentile(sorted, 0.5) * 1e3, percentile(sorted, 0.9) * 1e3, percentile(sorted, 0.99) * 1e3,
                     (sorted.last ?? 0) * 1e3))
    }
}
