import Foundation
import LockstepCore

/// The engine alone, no bus or store: the cost of one `Engine.reduce` step as the runs held grow.
///
/// A DAG of five no-op tasks in a chain with `max_active_runs: 64`, and a backfill of hourly runs held
/// in the state (64 running, the rest queued). A simulated worker takes the oldest dispatched attempt,
/// starts it and succeeds it; every finished run is replaced by a new request, so the number of runs
/// held stays the same while it is measured, and finished runs are forgotten as the coordinator does
/// after each commit (outside the timing). Each `reduce` call is timed on its own.
enum EngineBench {
    static let sizes = [100, 1_000, 10_000]
    static let warmupSteps = 300
    static let measuredSteps = 3_000

    struct Result {
        var held: Int
        var steps: Int
        var stepsPerSecond: Double
        var p50: Double
        var p99: Double
    }

    static func run() async throws {
        let dag = DagSpec(
            id: "bench", maxActiveRuns: 64,
            tasks: (0..<5).map { i in TaskSpec(id: "t\(i)", operator: "noop", upstream: i == 0 ? [] : ["t\(i - 1)"]) })
        let engine = Engine(dags: [dag], config: .empty)
        var results: [Result] = []
        for held in sizes {
            let result = measure(engine, held: held)
            results.append(result)
            print(String(format: "engine: %6d runs held: %8.0f steps/s, p50 %8.2f µs, p99 %8.2f µs per step (%d steps)",
                         result.held, result.stepsPerSecond, result.p50, result.p99, result.steps))
        }
        print("")
        print("| runs held | steps/s | p50 per step | p99 per step |")
        print("| ---: | ---: | ---: | ---: |")
        for r in results {
            print(String(format: "| %d | %.0f | %.2f µs | %.2f µs |", r.held, r.stepsPerSecond, r.p50, r.p99))
        }
        if let small = results.first, let large = results.last, small.held != large.held {
            print(String(format: "ratio %d/%d: p50 ×%.2f, p99 ×%.2f, steps/s ×%.2f", large.held, small.held,
                         large.p50 / small.p50, large.p99 / small.p99, large.stepsPerSecond / small.stepsPerSecond))
        }
    }

    /// The simulated worker and what was measured.
    struct Workload {
        let start = ISO8601.parse("2025-01-01T00:00:00Z")!
        var now = ISO8601.parse("2025-01-01T00:00:00Z")!
        var inFlight: [AttemptID] = []
        var inFlightHead = 0
        var requested = 0
        var finished = 0
        var steps = 0
        var samples: [Double] = []
        var timedNanos: UInt64 = 0

        mutating func note(_ commands: [EngineCommand]) {
            for command in commands {
                switch command {
                case .dispatch(let dispatch): inFlight.append(dispatch.attempt)
                case .publish(let event) where event.kind == .runSucceeded || event.kind == .runFailed: finished += 1
                default: break
                }
            }
        }

        mutating func request() -> EngineEvent {
            let logical = start.addingTimeInterval(Double(requested) * 3600)
            requested += 1
            return .runRequested(RunRequest(
                runID: .scheduled(dagID: "bench", logicalDate: logical), dagID: "bench", logicalDate: logical, trigger: .backfill))
        }

        mutating func takeAttempt() -> AttemptID? {
            guard inFlightHead < inFlight.count else { return nil }
            defer {
                inFlightHead += 1
                if inFlightHead > 4096 {
                    inFlight.removeFirst(inFlightHead)
                    inFlightHead = 0
                }
            }
            return inFlight[inFlightHead]
        }
    }

    /// One step through `reduce`, the state moved in and the new one kept, as a caller that keeps only
    /// the new state does. Timed when past the warm-up.
    @inline(never)
    static func step(_ engine: Engine, _ state: inout EngineState, _ work: inout Workload, _ event: EngineEvent, timed: Bool = true) {
        work.now = work.now.addingTimeInterval(0.001)
        let before = DispatchTime.now().uptimeNanoseconds
        let commands: [EngineCommand]
        (state, commands) = engine.reduce(consume state, event, now: work.now)
        let elapsed = DispatchTime.now().uptimeNanoseconds - before
        work.note(commands)
        guard timed else { return }
        if work.steps >= warmupSteps {
            work.samples.append(Double(elapsed) / 1000)
            work.timedNanos += elapsed
        }
        work.steps += 1
    }

    static func measure(_ engine: Engine, held: Int) -> Result {
        var state = EngineState()
        var work = Workload()
        work.samples.reserveCapacity(measuredSteps)

        // The backfill arrives at once (untimed).
        let setup = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<held { step(engine, &state, &work, work.request(), timed: false) }
        print(String(format: "engine: %6d runs requested in %.1f ms", held, Double(DispatchTime.now().uptimeNanoseconds - setup) / 1e6))

        while work.steps < warmupSteps + measuredSteps, let attempt = work.takeAttempt() {
            step(engine, &state, &work, .taskStarted(attempt, worker: "w"))
            let finishedBefore = work.finished
            step(engine, &state, &work, .taskSucceeded(attempt, TaskSuccess()))
            if work.finished > finishedBefore {
                // Keep the number of runs held constant: forget what finished (as the coordinator does
                // after a commit, untimed) and ask for as many new runs (timed: a request is a step too).
                state.forgetFinishedRuns(keepingPerDag: 0)
                for _ in finishedBefore..<work.finished { step(engine, &state, &work, work.request()) }
            }
        }
        let samples = work.samples.sorted()
        func percentile(_ p: Double) -> Double { samples.isEmpty ? 0 : samples[min(samples.count - 1, Int(Double(samples.count) * p))] }
        return Result(
            held: held, steps: samples.count, stepsPerSecond: Double(samples.count) / (Double(work.timedNanos) / 1e9),
            p50: percentile(0.5), p99: percentile(0.99))
    }
}
