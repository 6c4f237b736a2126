import Foundation
import LockstepCore
import LockstepOperators
import LockstepServices
import LockstepTestSupport

/// A task that prints 100,000 lines (`seq 100000`, a `command` task) on the embedded log with SQLite
/// state: how fast its lines reach the store (first line stored → last line stored), and what it
/// costs the other runs: task-to-task latency of a stream of small runs (the 10-task `chain`),
/// measured on the idle system and while the chatty task runs, side by side with the ratio.
enum TaskLogBench {
    static let lines = 100_000
    static let idleRuns = 30
    /// Chain runs wanted while a chatty task runs; chatty runs are started until there are as many.
    static let busyRuns = 30
    static let maxChattyRuns = 20

    static func run() async throws {
        let chatty = DagSpec(id: "chatty", maxActiveRuns: 1, tasks: [
            TaskSpec(id: "print", operator: "command", params: ["argv": [.string("seq"), .string("\(lines)")]]),
        ])
        // The default caps keep 10,000 lines (5 MiB) per attempt; raised so that all 100,000 lines are
        // stored: the most a chatty task can cost the others.
        let limits = TaskLog.Limits(maxLines: lines + 1000, maxBytes: 64 << 20)
        let system = try await BenchSystem.start(bus: .embedded, extraDags: [chatty], taskLog: limits)
        _ = try await system.runToEnd("chain")
        _ = try await system.runToEnd("chatty")

        var idle: [Double] = []
        for _ in 0..<idleRuns { idle += try await gaps(system, try await system.runToEnd("chain")) }

        var busy: [Double] = []
        var storing: [Double] = []
        var taskSeconds: [Double] = []
        var chattyRuns = 0
        var chainRuns = 0
        while chainRuns < busyRuns && chattyRuns < maxChattyRuns {
            chattyRuns += 1
            let run = try await system.trigger("chatty")
            let attempt = AttemptID(runID: run, taskID: "print", tryNumber: 1)
            let watch = Task { try await watchStoring(system, attempt) }
            // Small runs back to back while the chatty one is unfinished.
            while try await system.runtime.store.run(run)?.state.isTerminal != true {
                busy += try await gaps(system, try await system.runToEnd("chain"))
                chainRuns += 1
            }
            storing.append(try await watch.value)
            let finished = try await system.waitForRun(run)
            guard finished.state == .succeeded else { throw BenchError("chatty run \(run) ended \(finished.state): \(finished.failure ?? "")") }
            if let duration = finished.tasks["print"]?.attempts.last?.duration { taskSeconds.append(duration.timeInterval) }
        }
        await system.stop()

        let direct = try await appendDirectly()
        let (s50, _) = PipelineBench.percentiles(storing)
        let (d50, _) = PipelineBench.percentiles(taskSeconds)
        print(String(format: "%d lines stored (first line stored → last): p50 %.2f s over %d runs, %.0f lines/s; the task start→result p50 %.2f s",
                     lines, s50, storing.count, Double(lines - 1) / s50, d50))
        print(String(format: "  beside: the same lines appended straight to a fresh SQLite store in batches of %d: %.2f s, %.0f lines/s",
                     TaskLog.Limits().batchLines, direct, Double(lines) / direct))
        let (i50, i99) = PipelineBench.percentiles(idle)
        let (b50, b99) = PipelineBench.percentiles(busy)
        print("task-to-task of other runs (chain of 10 no-op tasks, attempt.succeeded → next attempt.started):")
        print("           idle     while it prints   ratio")
        print(String(format: "  p50  %7.2f ms  %12.2f ms  %6.2f×", i50, b50, b50 / i50))
        print(String(format: "  p99  %7.2f ms  %12.2f ms  %6.2f×", i99, b99, b99 / i99))
        print("  (\(idle.count) gaps idle, \(busy.count) gaps over \(chainRuns) runs during \(chattyRuns) chatty runs)")
    }

    private static func gaps(_ system: BenchSystem, _ run: RunID) async throws -> [Double] {
        try await system.taskToTaskGaps(run).map { $0.coordinator + $0.worker }
    }

    /// Seconds to append `lines` lines like `seq`'s to an empty SQLite store in the workers' batch
    /// size, with nothing else running: the store's share of the end-to-end figure.
    private static func appendDirectly() async throws -> Double {
        let directory = try TestPaths.temporaryDirectory("lockstep-bench-logs")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await StateStore(.sqlite(path: directory.appendingPathComponent("state.sqlite").path))
        let attempt = AttemptID(runID: "chatty~direct", taskID: "print", tryNumber: 1)
        let batch = TaskLog.Limits().batchLines
        let now = Date()
        let started = ContinuousClock.now
        for first in stride(from: 1, through: lines, by: batch) {
            try await store.appendLogLines(attempt, (first..<min(first + batch, lines + 1)).map {
                StoredLogLine(seq: $0, time: now, stream: "stdout", text: String($0))
            })
        }
        let seconds = (ContinuousClock.now - started).milliseconds / 1000
        await store.close()
        return seconds
    }

    /// Seconds from the attempt's first line in the store to its last, polled every 5 ms.
    private static func watchStoring(_ system: BenchSystem, _ attempt: AttemptID) async throws -> Double {
        var first: ContinuousClock.Instant?
        while true {
            let newest = try await system.runtime.store.newestLogSeq(attempt) ?? 0
            let now = ContinuousClock.now
            if newest >= 1, first == nil { first = now }
            if newest >= lines, let first { return (now - first).milliseconds / 1000 }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
