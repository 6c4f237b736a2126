import Foundation
import LockstepTestSupport
import Testing

@testable import LockstepCore

/// The same events, delivered in any per-run order with duplicates and stale repeats mixed in, give
/// the same final state. This is what the coordinator relies on under at-least-once delivery.
@Suite struct EnginePropertyTests {
    /// Three independent DAGs (no shared pool), each with fan-out/fan-in, a flaky task with retries
    /// and a timeout, so the recorded history contains every kind of event.
    let dags = [
        dag("alpha", tasks: [task("a"), task("b", after: ["a"], retries: 2, delay: .seconds(60)), task("c", after: ["a"]), task("d", after: ["b", "c"])]),
        dag("beta", tasks: [task("x", retries: 1, delay: .seconds(30), timeout: .seconds(10)), task("y", after: ["x"], rule: .allDone)]),
        dag("gamma", tasks: [task("p"), task("q", after: ["p"], rule: .oneSuccess), task("r", after: ["p"])]),
    ]

    /// Plays a world in which `b` fails once, `x` times out once and `r` fails for good, recording
    /// each run's events in the order the coordinator saw them.
    func recordHistory(dispatchWindow: Int? = nil) -> [String: [(EngineEvent, Date)]] {
        var h = EngineHarness(dags, dispatchWindow: dispatchWindow)
        var perRun: [String: [(EngineEvent, Date)]] = [:]
        var pendingTimers: [(TimerID, Date)] = []
        var queue: [EngineEvent] = []
        for (i, d) in ["alpha", "beta", "gamma"].enumerated() {
            queue.append(.runRequested(RunRequest(runID: "\(d)-run", dagID: d, logicalDate: t0.addingTimeInterval(Double(i)))))
        }
        func runID(of event: EngineEvent) -> String {
            switch event {
            case .runRequested(let r): r.runID
            case .taskStarted(let a, _), .taskSucceeded(let a, _), .taskFailed(let a, _), .taskTimedOut(let a): a.runID
            case .timerFired(let t): t.attempt.runID
            default: "?"
            }
        }
        while !queue.isEmpty || !pendingTimers.isEmpty {
            let event: EngineEvent
            if !queue.isEmpty {
                event = queue.removeFirst()
                h.send(event, after: 1)
            } else {
                pendingTimers.sort { $0.1 < $1.1 }
                let (timer, at) = pendingTimers.removeFirst()
                event = .timerFired(timer)
                h.send(event, after: max(0, at.timeIntervalSince(h.now)))
            }
            perRun[runID(of: event), default: []].append((event, h.now))
            for command in h.last {
                switch command {
                case .startTimer(let timer, let at): pendingTimers.append((timer, at))
                case .cancelTimer(let timer): pendingTimers.removeAll { $0.0 == timer }
                case .dispatch(let d):
                    let a = d.attempt
                    if a.taskID == "x" && a.tryNumber == 1 {
                        queue.append(.taskStarted(a, worker: "w"))  // and never finishes: the timeout fires
                    } else {
                        queue.append(.taskStarted(a, worker: "w"))
                        if (a.taskID == "b" && a.tryNumber == 1) || a.taskID == "r" {
                            queue.append(.taskFailed(a, TaskFailure(message: "flaky", retryable: a.taskID == "b")))
                        } else {
                            queue.append(.taskSucceeded(a, TaskSuccess(output: ["task": .string(a.taskID), "try": .int(Int64(a.tryNumber))])))
                        }
                    }
                default: break
                }
            }
        }
        return perRun
    }

    /// The runs' streams interleaved at random, each keeping its own order (Kafka's per-key order),
    /// then some events delivered again, later (at-least-once redelivery and stale repeats).
    static func randomDelivery(of history: [String: [(EngineEvent, Date)]], using rng: inout SplitMix64) -> [(EngineEvent, Date)] {
        var cursors = Dictionary(uniqueKeysWithValues: history.keys.map { ($0, 0) })
        var merged: [(EngineEvent, Date)] = []
        while let run = cursors.filter({ $0.value < history[$0.key]!.count }).keys.sorted().randomElement(using: &rng) {
            merged.append(history[run]![cursors[run]!])
            cursors[run]! += 1
        }
        for _ in 0..<Int.random(in: 1...20, using: &rng) {
            let i = Int.random(in: 0..<merged.count, using: &rng)
            let j = Int.random(in: (i + 1)...merged.count, using: &rng)
            merged.insert(merged[i], at: j)
        }
        return merged
    }

    func finalState(_ events: [(EngineEvent, Date)], dispatchWindow: Int? = nil) -> EngineState {
        var config = LockstepConfig.empty
        config.dispatchWindow = dispatchWindow
        let engine = Engine(dags: dags, config: config)
        var state = EngineState()
        for (event, at) in events {
            _ = engine.apply(event, to: &state, now: at)
            #expect(state.indexProblems() == [])  // the indexes match a recomputation after every step
        }
        // Arrival order differs between interleavings by design; everything else must not.
        for id in state.runs.keys { state.runs[id]!.sequence = 0 }
        // With a window, when a try was dispatched depends on which run's task took a free place
        // first; what ran, how often and how it ended must not.
        if dispatchWindow != nil {
            for id in state.runs.keys {
                for taskID in state.runs[id]!.tasks.keys {
                    for i in state.runs[id]!.tasks[taskID]!.attempts.indices { state.runs[id]!.tasks[taskID]!.attempts[i].scheduledAt = t0 }
                }
            }
        }
        state.nextSequence = 0
        return state
    }

    /// Also with a dispatch window smaller than the runs' ready tasks: which run's task takes a free
    /// place then depends on the interleaving, and a result for a try still waiting in the window
    /// dispatches it (`adoptLined`), so the runs still end the same.
    @Test(arguments: [nil, 1, 2] as [Int?])
    func randomInterleavingsAndDuplicatesReachTheSameFinalState(dispatchWindow: Int?) {
        let history = recordHistory(dispatchWindow: dispatchWindow)
        let canonical = finalState(history.keys.sorted().flatMap { history[$0]! }, dispatchWindow: dispatchWindow)
        #expect(canonical.runs.count == 3)
        #expect(canonical.runs["alpha-run"]?.state == .succeeded)
        #expect(canonical.runs["alpha-run"]?.tasks["b"]?.tryNumber == 2)
        #expect(canonical.runs["beta-run"]?.tasks["x"]?.attempts.first?.outcome == .timedOut)
        #expect(canonical.runs["gamma-run"]?.state == .failed)

        var rng = SplitMix64(seed: 0x5EED)
        for _ in 0..<200 {
            let merged = Self.randomDelivery(of: history, using: &rng)
            let state = finalState(merged, dispatchWindow: dispatchWindow)
            #expect(state == canonical)
            if state != canonical { return }
        }
    }
}
