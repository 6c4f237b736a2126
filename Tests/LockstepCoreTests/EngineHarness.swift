import Foundation

@testable import LockstepCore

let t0 = ISO8601.parse("2025-09-18T02:00:00Z")!

/// Drives the engine event by event, as the coordinator would, keeping the state and the commands.
struct EngineHarness {
    let engine: Engine
    var state = EngineState()
    var now = t0
    /// Commands from the most recent event.
    var last: [EngineCommand] = []
    var all: [EngineCommand] = []
    /// Every event applied with the clock value it was applied at, for replays.
    var log: [(EngineEvent, Date)] = []

    init(_ dags: [DagSpec], pools: [String: Int] = [:], dispatchWindow: Int? = nil) {
        var config = LockstepConfig(pools: pools.mapValues { PoolSpec(slots: $0) })
        config.dispatchWindow = dispatchWindow
        engine = Engine(dags: dags, config: config)
    }

    @discardableResult
    mutating func send(_ event: EngineEvent, after seconds: Double = 0) -> [EngineCommand] {
        now = now.addingTimeInterval(seconds)
        last = engine.apply(event, to: &state, now: now)
        all += last
        log.append((event, now))
        return last
    }

    mutating func trigger(_ dagID: String, run: RunID? = nil, conf: JSONValue = .emptyObject, logical: Date? = nil) {
        let id = run ?? "\(dagID)#\(state.nextSequence)"
        send(.runRequested(RunRequest(runID: id, dagID: dagID, logicalDate: logical ?? now, conf: conf)))
    }

    func run(_ id: RunID) -> DagRun { state.runs[id]! }
    func task(_ run: RunID, _ task: String) -> TaskInstance { state.runs[run]!.tasks[task]! }

    var dispatched: [TaskDispatch] { last.compactMap { if case .dispatch(let d) = $0 { d } else { nil } } }
    var allDispatched: [TaskDispatch] { all.compactMap { if case .dispatch(let d) = $0 { d } else { nil } } }
    var published: [LifecycleEvent] { last.compactMap { if case .publish(let e) = $0 { e } else { nil } } }
    var timers: [(TimerID, Date)] { last.compactMap { if case .startTimer(let t, let at) = $0 { (t, at) } else { nil } } }

    /// Start and succeed an attempt in one go.
    mutating func complete(_ attempt: AttemptID, output: JSONValue = .emptyObject, after seconds: Double = 0) {
        send(.taskStarted(attempt, worker: "w1"), after: seconds)
        send(.taskSucceeded(attempt, TaskSuccess(output: output)))
    }

    mutating func fail(_ attempt: AttemptID, retryable: Bool = true, after seconds: Double = 0) {
        send(.taskStarted(attempt, worker: "w1"), after: seconds)
        send(.taskFailed(attempt, TaskFailure(message: "boom", retryable: retryable)))
    }
}

func attempt(_ run: RunID, _ task: String, _ tryNumber: Int = 1) -> AttemptID {
    AttemptID(runID: run, taskID: task, tryNumber: tryNumber)
}

/// A DAG built in code: `chain` links tasks one after another.
func dag(
    _ id: String, maxActiveRuns: Int = 16, tasks: [TaskSpec], params: [String: ParamSpec] = [:], triggerOn: [String] = []
) -> DagSpec {
    DagSpec(id: id, maxActiveRuns: maxActiveRuns, triggerOn: triggerOn, params: params, tasks: tasks)
}

func task(
    _ id: String, after upstream: [String] = [], rule: TriggerRule = .allSuccess, pool: String? = nil,
    retries: Int = 0, delay: Duration = .seconds(300), exponential: Bool = false, maxDelay: Duration? = nil,
    timeout: Duration? = nil, dependsOnPast: Bool = false
) -> TaskSpec {
    TaskSpec(
        id: id, operator: "noop", upstream: upstream, triggerRule: rule, pool: pool,
        retry: RetryPolicy(retries: retries, delay: delay, exponentialBackoff: exponential, maxDelay: maxDelay),
        timeout: timeout, dependsOnPast: dependsOnPast)
}
