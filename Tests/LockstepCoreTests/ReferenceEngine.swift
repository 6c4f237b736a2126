import Foundation

@testable import LockstepCore

// The engine as it was before its steps were indexed (main at 06079f5), kept verbatim but renamed: every
// step walks every run held. The differential tests check that the indexed engine gives the same
// commands and the same runs, event for event. Not for anything but tests.

/// The run state machine: a pure reducer `(ReferenceState, EngineEvent, now) -> (ReferenceState, [EngineCommand])`.
///
/// Deterministic and free of I/O: the same events with the same clock values give the same state and
/// commands, which is what makes replay, crash recovery and tests simple. Every event names what it
/// is about (run, task, try, timer); one that no longer matches the state (a duplicate, a late result
/// for an earlier try, a timer for a finished attempt) changes nothing.
struct ReferenceEngine: Sendable {
    let dags: [String: DagSpec]
    let pools: [String: PoolSpec]

    init(dags: [DagSpec], config: LockstepConfig) {
        self.dags = Dictionary(dags.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        pools = config.pools
    }

    /// Applies one event; returns the new state and what to do about it.
    func reduce(_ state: ReferenceState, _ event: EngineEvent, now: Date) -> (ReferenceState, [EngineCommand]) {
        var state = state
        let commands = apply(event, to: &state, now: now)
        return (state, commands)
    }

    /// The in-place form of `reduce`.
    func apply(_ event: EngineEvent, to state: inout ReferenceState, now: Date) -> [EngineCommand] {
        applyTracking(event, to: &state, now: now).commands
    }

    /// `apply`, also naming the runs it changed, so a store can write just those.
    func applyTracking(_ event: EngineEvent, to state: inout ReferenceState, now: Date) -> (commands: [EngineCommand], touched: Set<RunID>) {
        var step = ReferenceStep(engine: self, state: state, now: now)
        step.handle(event)
        step.settle()
        state = step.state
        return (step.commands, step.touched)
    }
}

/// One event's worth of changes: the state being edited and the commands collected.
struct ReferenceStep {
    let engine: ReferenceEngine
    var state: ReferenceState
    let now: Date
    var commands: [EngineCommand] = []
    var touched: Set<RunID> = []

    init(engine: ReferenceEngine, state: ReferenceState, now: Date) {
        self.engine = engine
        self.state = state
        self.now = now
    }

    mutating func handle(_ event: EngineEvent) {
        switch event {
        case .runRequested(let request): requestRun(request)
        case .scheduleTick(let tick):
            requestRun(RunRequest(runID: tick.runID, dagID: tick.dagID, logicalDate: tick.logicalDate, trigger: .schedule, trace: tick.trace))
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
            state: .queued, sequence: state.nextSequence, requestedAt: now, tasks: tasks, trace: request.trace)
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

/// After every event the engine "settles": it starts queued runs the DAG's limit allows, moves tasks
/// whose upstream is decided, hands free pool slots to waiting tasks in order, and finishes runs whose
/// tasks are all done — repeating until nothing changes. Runs are visited in arrival order and tasks in
/// declaration order, so the outcome never depends on dictionary order.
extension ReferenceStep {
    mutating func settle() {
        var changed = true
        while changed {
            changed = false
            changed = startQueuedRuns() || changed
            changed = advanceTasks() || changed
            changed = grantPoolSlots() || changed
            changed = finishRuns() || changed
        }
    }

    private mutating func startQueuedRuns() -> Bool {
        let now = self.now  // a copy: closures that edit state cannot also read self
        var changed = false
        let ordered = state.orderedActiveRuns
        for dagID in Set(ordered.map(\.dagID)).sorted() {
            guard let dag = engine.dags[dagID], !state.pausedDags.contains(dagID) else { continue }
            var active = ordered.filter { $0.dagID == dagID && $0.state == .running }.count
            for run in ordered where run.dagID == dagID && run.state == .queued {
                guard active < dag.maxActiveRuns else { break }
                updateRun(run.id) {
                    $0.state = .running
                    $0.startedAt = now
                }
                publish(.runStarted, state.runs[run.id]!)
                active += 1
                changed = true
            }
        }
        return changed
    }

    private mutating func advanceTasks() -> Bool {
        var changed = false
        for run in state.orderedActiveRuns where run.state == .running {
            guard let dag = engine.dags[run.dagID] else { continue }
            for spec in dag.tasks {
                guard let task = state.runs[run.id]?.tasks[spec.id], task.state == .pending else { continue }
                let upstream = spec.upstream.compactMap { state.runs[run.id]?.tasks[$0]?.state }
                var readiness = spec.triggerRule.evaluate(upstream)
                if readiness == .ready, spec.dependsOnPast, let blocker = pastBlocker(run, spec) {
                    if task.waitingFor != blocker { updateTask(TaskKey(runID: run.id, taskID: spec.id)) { $0.waitingFor = blocker } }
                    readiness = .wait
                }
                let key = TaskKey(runID: run.id, taskID: spec.id)
                switch readiness {
                case .wait:
                    continue
                case .skip:
                    updateTask(key) { $0.state = .skipped }
                    publish(.taskSkipped, run, task: AttemptID(runID: run.id, taskID: spec.id, tryNumber: task.tryNumber))
                case .upstreamFailed:
                    updateTask(key) { $0.state = .upstreamFailed }
                    publish(.taskUpstreamFailed, run, task: AttemptID(runID: run.id, taskID: spec.id, tryNumber: task.tryNumber))
                case .ready:
                    if let pool = spec.pool {
                        updateTask(key) {
                            $0.state = .queued
                            $0.waitingFor = "a slot in pool \(pool)"
                        }
                        state.pools[pool, default: ReferencePool()].waiting.append(key)
                        publish(.taskQueued, run, task: AttemptID(runID: run.id, taskID: spec.id, tryNumber: task.tryNumber + 1))
                    } else {
                        dispatch(key, spec: spec)
                    }
                }
                changed = true
            }
        }
        return changed
    }

    /// Why depends_on_past holds this task back: the same task in the DAG's previous run (by logical
    /// date) has not succeeded or been skipped. Nil when it may go.
    private func pastBlocker(_ run: DagRun, _ spec: TaskSpec) -> String? {
        let earlier = state.runs.values.filter { $0.dagID == run.dagID && $0.logicalDate < run.logicalDate && $0.state != .cancelled }
        guard let previous = earlier.max(by: { ($0.logicalDate, $0.sequence) < ($1.logicalDate, $1.sequence) }) else { return nil }
        let pastState = previous.tasks[spec.id]?.state
        if pastState == .succeeded || pastState == .skipped { return nil }
        return "\(spec.id) in the previous run \(previous.id) (depends_on_past)"
    }

    private mutating func grantPoolSlots() -> Bool {
        var changed = false
        for name in state.pools.keys.sorted() {
            let slots = engine.pools[name]?.slots ?? 1
            while state.pools[name]!.holders.count < slots, !state.pools[name]!.waiting.isEmpty {
                let key = state.pools[name]!.waiting.removeFirst()
                guard let run = state.runs[key.runID], run.state == .running, run.tasks[key.taskID]?.state == .queued,
                    let spec = spec(run, key.taskID)
                else { continue }
                dispatch(key, spec: spec)
                changed = true
            }
        }
        return changed
    }

    /// Dispatches the next try of a ready task, taking its pool slot.
    private mutating func dispatch(_ key: TaskKey, spec: TaskSpec) {
        let now = self.now  // a copy: closures that edit state cannot also read self
        guard let run = state.runs[key.runID], let dag = engine.dags[run.dagID], let task = run.tasks[key.taskID] else { return }
        let attempt = AttemptID(runID: key.runID, taskID: key.taskID, tryNumber: task.tryNumber + 1)
        if let pool = spec.pool { state.pools[pool, default: ReferencePool()].holders.append(attempt) }
        updateTask(key) {
            $0.state = .scheduled
            $0.tryNumber = attempt.tryNumber
            $0.waitingFor = nil
            $0.attempts.append(TaskAttempt(tryNumber: attempt.tryNumber, scheduledAt: now))
        }
        var inputs: [String: JSONValue] = [:]
        for ancestor in dag.ancestors(of: key.taskID) {
            if let upstream = run.tasks[ancestor], upstream.state == .succeeded, let output = upstream.output {
                inputs[ancestor] = output
            }
        }
        commands.append(.dispatch(TaskDispatch(
            attempt: attempt, dagID: run.dagID, logicalDate: run.logicalDate, operator: spec.operator, params: spec.params,
            conf: run.conf, inputs: inputs, timeout: spec.timeout, maxTries: task.maxTries, pool: spec.pool)))
        publish(.taskScheduled, run, task: attempt)
    }

    private mutating func finishRuns() -> Bool {
        let now = self.now  // a copy: closures that edit state cannot also read self
        var changed = false
        for run in state.orderedActiveRuns where run.state == .running {
            guard let dag = engine.dags[run.dagID], run.tasks.values.allSatisfy(\.state.isTerminal) else { continue }
            // As in Airflow, the leaves decide: a failure handled by an all_done leaf still succeeds.
            let failedLeaf = dag.leafTaskIDs.contains { [.failed, .upstreamFailed].contains(run.tasks[$0]?.state) }
            updateRun(run.id) {
                $0.state = failedLeaf ? .failed : .succeeded
                $0.finishedAt = now
                if failedLeaf && $0.failure == nil { $0.failure = "upstream tasks failed" }
            }
            state.activeRuns.removeAll { $0 == run.id }
            let finished = state.runs[run.id]!
            if failedLeaf {
                publish(.runFailed, finished, reason: finished.failure)
            } else {
                var outputs: [String: JSONValue] = [:]
                for (id, task) in finished.tasks { if let output = task.output { outputs[id] = output } }
                publish(.runSucceeded, finished, output: .object(outputs), warnings: finished.warnings)
                requestDownstreamRuns(of: finished)
            }
            changed = true
        }
        return changed
    }

    /// DAGs that declare `trigger_on` this one get a run request, with an id derived from this run so
    /// that a repeated success never starts two.
    private mutating func requestDownstreamRuns(of run: DagRun) {
        for dag in engine.dags.values.sorted(by: { $0.id < $1.id }) where dag.triggerOn.contains(run.dagID) {
            commands.append(.requestRun(RunRequest(
                runID: "\(dag.id)@after:\(run.id)", dagID: dag.id, logicalDate: run.logicalDate,
                conf: .emptyObject, trigger: .upstream(dagID: run.dagID, runID: run.id),
                trace: run.trace.map { TraceContext(traceID: $0.traceID, parentSpanID: TraceContext.runSpanID(run.id), flags: $0.flags, tracestate: $0.tracestate) })))
        }
    }
}
/// Who holds a pool's slots and who waits, in order.
struct ReferencePool: Sendable, Hashable {
    var holders: [AttemptID] = []
    var waiting: [TaskKey] = []
}

/// The engine's whole state: every run, pool occupancy and paused DAGs. Serialisable, so the
/// coordinator can persist it and `lockstep rebuild` can recompute it from the topics.
struct ReferenceState: Sendable, Hashable {
    var runs: [RunID: DagRun] = [:]
    var pools: [String: ReferencePool] = [:]
    var pausedDags: Set<String> = []
    var nextSequence = 0
    /// Runs not yet finished, in arrival order: what every step looks at, so finished history costs nothing.
    var activeRuns: [RunID] = []

    init() {}

    /// Runs in arrival order.
    var orderedRuns: [DagRun] { runs.values.sorted { $0.sequence < $1.sequence } }

    /// Unfinished runs in arrival order.
    var orderedActiveRuns: [DagRun] { activeRuns.compactMap { runs[$0] } }

    /// Drops all but the newest `keep` finished runs of each DAG from memory (a store keeps them all).
    /// What is kept must cover redeliveries (a repeated request for a forgotten run would start it
    /// again) and depends_on_past (which looks at the previous run).
    mutating func forgetFinishedRuns(keepingPerDag keep: Int) {
        var finished: [String: [DagRun]] = [:]
        for run in runs.values where run.state.isTerminal { finished[run.dagID, default: []].append(run) }
        for (_, list) in finished where list.count > keep {
            for run in list.sorted(by: { $0.sequence > $1.sequence }).dropFirst(keep) { runs[run.id] = nil }
        }
    }

    /// Recomputes `activeRuns` from `runs` (after loading runs from a store).
    mutating func reindex() {
        activeRuns = runs.values.filter { !$0.state.isTerminal }.sorted { $0.sequence < $1.sequence }.map(\.id)
    }

    func runs(of dagID: String) -> [DagRun] { orderedRuns.filter { $0.dagID == dagID } }
}
