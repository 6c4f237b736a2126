import Foundation

/// The run state machine: a pure reducer `(EngineState, EngineEvent, now) -> (EngineState, [EngineCommand])`.
///
/// Deterministic and free of I/O: the same events with the same clock values give the same state and
/// commands, which is what makes replay, crash recovery and tests simple. Every event names what it
/// is about (run, task, try, timer); one that no longer matches the state (a duplicate, a late result
/// for an earlier try, a timer for a finished attempt) changes nothing.
public struct Engine: Sendable {
    public let dags: [String: DagSpec]
    public let pools: [String: PoolSpec]

    public init(dags: [DagSpec], config: LockstepConfig) {
        self.dags = Dictionary(dags.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        pools = config.pools
    }

    /// Applies one event; returns the new state and what to do about it.
    public func reduce(_ state: EngineState, _ event: EngineEvent, now: Date) -> (EngineState, [EngineCommand]) {
        var state = state
        let commands = apply(event, to: &state, now: now)
        return (state, commands)
    }

    /// The in-place form of `reduce`.
    public func apply(_ event: EngineEvent, to state: inout EngineState, now: Date) -> [EngineCommand] {
        applyTracking(event, to: &state, now: now).commands
    }

    /// `apply`, also naming the runs it changed, so a store can write just those.
    public func applyTracking(_ event: EngineEvent, to state: inout EngineState, now: Date) -> (commands: [EngineCommand], touched: Set<RunID>) {
        var step = Step(engine: self, state: state, now: now)
        step.handle(event)
        step.settle()
        state = step.state
        return (step.commands, step.touched)
    }
}

/// One event's worth of changes: the state being edited and the commands collected.
struct Step {
    let engine: Engine
    var state: EngineState
    let now: Date
    var commands: [EngineCommand] = []
    var touched: Set<RunID> = []

    init(engine: Engine, state: EngineState, now: Date) {
        self.engine = engine
        self.state = state
        self.now = now
    }

    mutating func handle(_ event: EngineEvent) {
        switch event {
        case .runRequested(let request): requestRun(request)
        case .scheduleTick(let tick):
            requestRun(RunRequest(runID: tick.runID, dagID: tick.dagID, logicalDate: tick.logicalDate, trigger: .schedule))
        case .taskStarted(let attempt, let worker): started(attempt, worker: worker)
        case .taskSucceeded(let attempt, let success): succeeded(attempt, success)
        case .taskFailed(let attempt, let failure): finishAttempt(attempt, outcome: .failed, error: failure)
        case .taskTimedOut(let attempt): timedOut(attempt)
        case .timerFired(let timer): timerFired(timer)
        case .runCancelled(let runID, let reason): cancel(runID, reason: reason)
        case .dagPaused(let dagID): state.pausedDags.insert(dagID)
        case .dagUnpaused(let dagID): state.pausedDags.remove(dagID)
        }
    }

    // MARK: Run requests

    mutating func requestRun(_ request: RunRequest) {
        guard state.runs[request.runID] == nil else { return }  // the same run asked for again
        let conf: JSONValue
        switch RunAdmission.check(request, dags: engine.dags, paused: state.pausedDags) {
        case .success(let resolved): conf = resolved
        case .failure(let refusal):
            commands.append(.reject(request, reason: refusal.reason))
            return
        }
        let dag = engine.dags[request.dagID]!
        var tasks: [String: TaskInstance] = [:]
        for spec in dag.tasks { tasks[spec.id] = TaskInstance(taskID: spec.id, maxTries: spec.retry.maxTries) }
        let run = DagRun(
            id: request.runID, dagID: dag.id, logicalDate: request.logicalDate, conf: conf, trigger: request.trigger,
            state: .queued, sequence: state.nextSequence, requestedAt: now, tasks: tasks)
        state.nextSequence += 1
        state.runs[run.id] = run
        state.activeRuns.append(run.id)
        touched.insert(run.id)
        publish(.runQueued, run)
    }

    // MARK: Worker results

    /// The task an event refers to, if that exact try is still in flight.
    func inFlight(_ attempt: AttemptID) -> (DagRun, TaskInstance)? {
        guard let run = state.runs[attempt.runID], run.state == .running,
            let task = run.tasks[attempt.taskID], task.tryNumber == attempt.tryNumber, task.state.isInFlight
        else { return nil }
        return (run, task)
    }

    mutating func started(_ attempt: AttemptID, worker: String) {
        let now = self.now  // a copy: closures that edit state cannot also read self
        guard let (run, task) = inFlight(attempt), task.state == .scheduled else { return }
        updateTask(attempt.task) {
            $0.state = .running
            $0.attempts[$0.attempts.count - 1].startedAt = now
            $0.attempts[$0.attempts.count - 1].worker = worker
        }
        if let timeout = spec(run, task.taskID)?.timeout {
            commands.append(.startTimer(TimerID(attempt: attempt, kind: .timeout), at: now.addingTimeInterval(timeout.timeInterval)))
        }
        publish(.taskStarted, run, task: attempt)
    }

    mutating func succeeded(_ attempt: AttemptID, _ success: TaskSuccess) {
        let now = self.now  // a copy: closures that edit state cannot also read self
        guard let (run, task) = inFlight(attempt) else { return }
        releasePool(attempt)
        if task.state == .running, spec(run, task.taskID)?.timeout != nil {
            commands.append(.cancelTimer(TimerID(attempt: attempt, kind: .timeout)))
        }
        updateTask(attempt.task) {
            $0.state = .succeeded
            $0.output = success.output
            $0.warnings = success.warnings
            $0.attempts[$0.attempts.count - 1].finishedAt = now
            $0.attempts[$0.attempts.count - 1].outcome = .succeeded
        }
        publish(.taskSucceeded, run, task: attempt, output: success.output, warnings: success.warnings)
    }

    mutating func timedOut(_ attempt: AttemptID) {
        guard let (run, task) = inFlight(attempt) else { return }
        let limit = spec(run, task.taskID)?.timeout.map(DurationText.format) ?? "its limit"
        commands.append(.abandon(attempt, reason: "timed out"))
        finishAttempt(
            attempt, outcome: .timedOut,
            error: TaskFailure(message: "attempt \(attempt.tryNumber) ran longer than \(limit)", retryable: true, category: "timeout"))
    }

    /// Ends an in-flight try that did not succeed: a retry if the policy and the error allow, else failure.
    mutating func finishAttempt(_ attempt: AttemptID, outcome: AttemptOutcome, error: TaskFailure) {
        let now = self.now  // a copy: closures that edit state cannot also read self
        guard let (run, task) = inFlight(attempt), let spec = spec(run, task.taskID) else { return }
        releasePool(attempt)
        if task.state == .running, spec.timeout != nil, outcome != .timedOut {
            commands.append(.cancelTimer(TimerID(attempt: attempt, kind: .timeout)))
        }
        let retry = error.retryable && task.tryNumber < task.maxTries
        let retryAt = now.addingTimeInterval(spec.retry.delay(afterTry: task.tryNumber).timeInterval)
        updateTask(attempt.task) {
            $0.state = retry ? .upForRetry : .failed
            $0.retryAt = retry ? retryAt : nil
            $0.attempts[$0.attempts.count - 1].finishedAt = now
            $0.attempts[$0.attempts.count - 1].outcome = outcome
            $0.attempts[$0.attempts.count - 1].error = error
        }
        if retry {
            commands.append(.startTimer(TimerID(attempt: attempt, kind: .retry), at: retryAt))
            publish(.taskUpForRetry, run, task: attempt, error: error, retryAt: retryAt)
        } else {
            updateRun(run.id) { $0.failure = $0.failure ?? "\(task.taskID) failed after \(task.tryNumber) tr\(task.tryNumber == 1 ? "y" : "ies"): \(error.message)" }
            publish(.taskFailed, run, task: attempt, error: error)
        }
    }

    mutating func timerFired(_ timer: TimerID) {
        switch timer.kind {
        case .timeout:
            timedOut(timer.attempt)
        case .retry:
            guard let run = state.runs[timer.attempt.runID], run.state == .running,
                let task = run.tasks[timer.attempt.taskID], task.state == .upForRetry,
                task.tryNumber == timer.attempt.tryNumber
            else { return }
            // Back to pending: settle() dispatches the next try once it gets a pool slot.
            updateTask(timer.attempt.task) {
                $0.state = .pending
                $0.retryAt = nil
            }
        }
    }

    // MARK: Cancellation

    mutating func cancel(_ runID: RunID, reason: String) {
        let now = self.now  // a copy: closures that edit state cannot also read self
        guard let run = state.runs[runID], !run.state.isTerminal else { return }
        for taskID in run.tasks.keys.sorted() {
            let task = run.tasks[taskID]!
            guard !task.state.isTerminal else { continue }
            let attempt = AttemptID(runID: runID, taskID: taskID, tryNumber: task.tryNumber)
            switch task.state {
            case .scheduled, .running:
                releasePool(attempt)
                if task.state == .running, spec(run, taskID)?.timeout != nil {
                    commands.append(.cancelTimer(TimerID(attempt: attempt, kind: .timeout)))
                }
                commands.append(.abandon(attempt, reason: "run cancelled: \(reason)"))
            case .upForRetry:
                commands.append(.cancelTimer(TimerID(attempt: attempt, kind: .retry)))
            case .queued:
                leavePoolQueue(TaskKey(runID: runID, taskID: taskID))
            default:
                break
            }
            publish(.taskCancelled, run, task: attempt, reason: reason)
            updateTask(TaskKey(runID: runID, taskID: taskID)) {
                $0.state = .cancelled
                if $0.attempts.last?.outcome == nil && !$0.attempts.isEmpty {
                    $0.attempts[$0.attempts.count - 1].outcome = .cancelled
                    $0.attempts[$0.attempts.count - 1].finishedAt = now
                }
            }
        }
        updateRun(runID) {
            $0.state = .cancelled
            $0.finishedAt = now
            $0.failure = "cancelled: \(reason)"
        }
        state.activeRuns.removeAll { $0 == runID }
        publish(.runCancelled, state.runs[runID]!, reason: reason)
    }

    // MARK: Helpers

    func spec(_ run: DagRun, _ taskID: String) -> TaskSpec? { engine.dags[run.dagID]?.task(taskID) }

    mutating func updateRun(_ id: RunID, _ change: (inout DagRun) -> Void) {
        guard var run = state.runs[id] else { return }
        change(&run)
        state.runs[id] = run
        touched.insert(id)
    }

    mutating func updateTask(_ key: TaskKey, _ change: (inout TaskInstance) -> Void) {
        updateRun(key.runID) { run in
            guard var task = run.tasks[key.taskID] else { return }
            change(&task)
            run.tasks[key.taskID] = task
        }
    }

    mutating func releasePool(_ attempt: AttemptID) {
        for name in state.pools.keys.sorted() {
            state.pools[name]!.holders.removeAll { $0.task == attempt.task }
        }
    }

    mutating func leavePoolQueue(_ key: TaskKey) {
        for name in state.pools.keys.sorted() {
            state.pools[name]!.waiting.removeAll { $0 == key }
        }
    }

    mutating func publish(
        _ kind: LifecycleEvent.Kind, _ run: DagRun, task attempt: AttemptID? = nil, output: JSONValue? = nil,
        error: TaskFailure? = nil, warnings: [String] = [], retryAt: Date? = nil, reason: String? = nil
    ) {
        var duration: Int64?
        if let attempt, let started = state.runs[run.id]?.tasks[attempt.taskID]?.currentAttempt, kind != .taskScheduled {
            let from = started.startedAt ?? started.scheduledAt
            duration = Int64((now.timeIntervalSince(from) * 1000).rounded())
        } else if attempt == nil, let startedAt = state.runs[run.id]?.startedAt, kind.rawValue.hasPrefix("run."), kind != .runStarted {
            duration = Int64((now.timeIntervalSince(startedAt) * 1000).rounded())
        }
        commands.append(.publish(LifecycleEvent(
            kind: kind, runID: run.id, dagID: run.dagID, logicalDate: run.logicalDate, at: now, trigger: run.trigger,
            taskID: attempt?.taskID, tryNumber: attempt?.tryNumber, output: output, error: error, warnings: warnings,
            durationMs: duration, retryAt: retryAt, reason: reason)))
    }
}
