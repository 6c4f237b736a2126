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
    /// At most this many attempts dispatched and not yet started, handed out fairly across DAGs
    /// (`DispatchWindowIndex`); nil: every ready task is dispatched at once.
    public let dispatchWindow: Int?
    /// What steps look up often, worked out once from the specs.
    let plans: [String: DagPlan]

    public init(dags: [DagSpec], config: LockstepConfig) {
        self.dags = Dictionary(dags.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        pools = config.pools
        dispatchWindow = config.dispatchWindow
        let all = self.dags
        plans = all.mapValues { DagPlan($0, among: all) }
    }

    /// The DAGs with depends_on_past tasks: their later runs look at the outcomes of earlier ones, so
    /// the engine keeps a compact record of each of their finished runs.
    public var dagsWithDependsOnPast: Set<String> { Set(plans.filter(\.value.hasDependsOnPast).keys) }

    /// Drops every finished run `state` holds, once a store has them: of a DAG with depends_on_past
    /// tasks a compact record stays (its logical date and the tasks that passed), of any other
    /// nothing, so memory does not grow with the runs finished. The engine then no longer knows
    /// those runs' ids: screen run requests against the store (`EngineState.knows`, then the store)
    /// before applying them, or a repeated request starts a finished run again.
    public func forgetFinishedRuns(in state: inout EngineState, handingOver: (DagRun) -> Void = { _ in }) {
        state.forgetFinishedRuns(keepingPerDag: 0, keepingRecordsOf: { plans[$0]?.hasDependsOnPast == true }, handingOver: handingOver)
    }

    /// Applies one event; returns the new state and what to do about it.
    ///
    /// A step costs the same however many runs the state holds, provided the state is not shared: a
    /// caller that keeps only the new state passes the old one with `consume` (`(state, commands) =
    /// engine.reduce(consume state, event, now: now)`) or uses `apply`; otherwise the first change
    /// copies every run, as value semantics require.
    public func reduce(_ state: consuming EngineState, _ event: EngineEvent, now: Date) -> (EngineState, [EngineCommand]) {
        let commands = apply(event, to: &state, now: now)
        return (state, commands)
    }

    /// The in-place form of `reduce`.
    public func apply(_ event: EngineEvent, to state: inout EngineState, now: Date) -> [EngineCommand] {
        applyMeasuring(event, to: &state, now: now).commands
    }

    /// `apply`, also naming the runs it changed, so a store can write just those.
    public func applyTracking(_ event: EngineEvent, to state: inout EngineState, now: Date) -> (commands: [EngineCommand], touched: Set<RunID>) {
        let result = applyMeasuring(event, to: &state, now: now)
        return (result.commands, result.touched)
    }

    /// `applyTracking`, also counting the work the step did (for tests and benchmarks).
    package func applyMeasuring(_ event: EngineEvent, to state: inout EngineState, now: Date)
        -> (commands: [EngineCommand], touched: Set<RunID>, statistics: StepStatistics)
    {
        var step = Step(engine: self, now: now)
        // Moved in and out rather than copied: a second reference to the runs would make the first
        // change copy all of them.
        swap(&step.state, &state)
        step.handle(event)
        step.settle()
        swap(&step.state, &state)
        return (step.commands, step.touched, step.statistics)
    }
}

/// How much one step looked at.
package struct StepStatistics: Sendable, Hashable {
    /// Runs the step examined: each check of a run by settle's phases (and each pool waiter) counts once.
    package var runsVisited = 0
}

/// A DAG's spec, pre-digested for the engine.
struct DagPlan: Sendable {
    var leafTaskIDs: [String]
    /// Every task's transitive upstream, in declaration order.
    var ancestors: [String: [String]]
    var hasDependsOnPast: Bool
    /// DAGs that trigger_on this one, by id.
    var downstreamDags: [String]

    init(_ dag: DagSpec, among dags: [String: DagSpec]) {
        leafTaskIDs = dag.leafTaskIDs
        ancestors = Dictionary(dag.tasks.map { ($0.id, dag.ancestors(of: $0.id)) }, uniquingKeysWith: { first, _ in first })
        hasDependsOnPast = dag.tasks.contains(where: \.dependsOnPast)
        downstreamDags = dags.values.filter { $0.triggerOn.contains(dag.id) }.map(\.id).sorted()
    }
}

/// The fields of a run that its events carry.
struct RunRef {
    var id: RunID
    var dagID: String
    var logicalDate: Date
    var trigger: RunTrigger
    /// Its arrival order (orders the dispatch window's line).
    var sequence: Int

    init(_ run: DagRun) {
        id = run.id
        dagID = run.dagID
        logicalDate = run.logicalDate
        trigger = run.trigger
        sequence = run.sequence
    }
}

/// A task's place, read without copying the task.
struct TaskFacts {
    var state: TaskState
    var tryNumber: Int
    var maxTries: Int
}

/// One event's worth of changes: the state being edited and the commands collected.
///
/// A step visits only what its event can change. `dirty` holds the runs whose tasks (or whose
/// previous run, for depends_on_past) changed since settle last looked at them, and
/// `finishCandidates` the runs changed since settle last checked whether they are done; the
/// indexes in `EngineState` give the queued runs and running counts of each DAG.
struct Step {
    let engine: Engine
    var state = EngineState()
    let now: Date
    var commands: [EngineCommand] = []
    var touched: Set<RunID> = []
    var dirty = DirtyRuns()
    /// Runs changed since settle last checked them for being finished, with their arrival number.
    var finishCandidates: [RunID: Int] = [:]
    var statistics = StepStatistics()

    init(engine: Engine, now: Date) {
        self.engine = engine
        self.now = now
    }

    mutating func handle(_ event: EngineEvent) {
        switch event {
        case .runRequested(let request): requestRun(request)
        case .scheduleTick(let tick):
            requestRun(RunRequest(runID: tick.runID, dagID: tick.dagID, logicalDate: tick.logicalDate, trigger: .schedule, trace: tick.trace))
        case .taskStarted(let attempt, let worker):
            adoptLined(attempt)
            started(attempt, worker: worker)
        case .taskSucceeded(let attempt, let success):
            adoptLined(attempt)
            succeeded(attempt, success)
        case .taskFailed(let attempt, let failure):
            adoptLined(attempt)
            finishAttempt(attempt, outcome: .failed, error: failure)
        case .taskTimedOut(let attempt): timedOut(attempt)
        case .timerFired(let timer): timerFired(timer)
        case .runCancelled(let runID, let reason): cancel(runID, reason: reason)
        case .dagPaused(let dagID): state.pausedDags.insert(dagID)
        case .dagUnpaused(let dagID): state.pausedDags.remove(dagID)
        }
    }

    // MARK: Run requests

    mutating func requestRun(_ request: RunRequest) {
        guard !state.knows(request.runID) else { return }  // the same run asked for again
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
        if engine.plans[dag.id]?.hasDependsOnPast == true {
            // The runs right after it (by logical date) now have it as their previous run.
            let entry = PastEntry(logicalDate: run.logicalDate, sequence: run.sequence, id: run.id)
            var order = state.pastOrder(of: dag.id)  // built (on first use) before the run is added
            state.index.past[dag.id] = nil  // edited while out, so the array is not copied
            order.insert(entry, at: order.partitioningIndex { entry.precedes($0) })
            state.index.past[dag.id] = order
            markPastSuccessors(dagID: dag.id, logicalDate: run.logicalDate)
        }
        state.runs[run.id] = run
        state.index.queued[dag.id, default: RunQueue()].append(QueuedRun(sequence: run.sequence, id: run.id))
        touched.insert(run.id)
        publish(.runQueued, RunRef(run))
    }

    // MARK: Worker results

    /// The task an event refers to, if that exact try is still in flight.
    mutating func inFlight(_ attempt: AttemptID) -> (RunRef, TaskFacts)? {
        state.peekRun(attempt.runID) { run -> (RunRef, TaskFacts)? in
            guard run.state == .running,
                let task = run.tasks.peek(attempt.taskID, { TaskFacts(state: $0.state, tryNumber: $0.tryNumber, maxTries: $0.maxTries) }),
                task.tryNumber == attempt.tryNumber, task.state.isInFlight
            else { return nil }
            return (RunRef(run), task)
        } ?? nil
    }

    mutating func started(_ attempt: AttemptID, worker: String) {
        let now = self.now  // a copy: closures that edit state cannot also read self
        guard let (run, task) = inFlight(attempt), task.state == .scheduled else { return }
        updateTask(attempt.task) {
            $0.state = .running
            $0.attempts[$0.attempts.count - 1].startedAt = now
            $0.attempts[$0.attempts.count - 1].worker = worker
        }
        if let timeout = spec(run.dagID, attempt.taskID)?.timeout {
            commands.append(.startTimer(TimerID(attempt: attempt, kind: .timeout), at: now.addingTimeInterval(timeout.timeInterval)))
        }
        publish(.taskStarted, run, task: attempt)
    }

    mutating func succeeded(_ attempt: AttemptID, _ success: TaskSuccess) {
        let now = self.now  // a copy: closures that edit state cannot also read self
        guard let (run, task) = inFlight(attempt) else { return }
        releasePool(attempt)
        if task.state == .running, spec(run.dagID, attempt.taskID)?.timeout != nil {
            commands.append(.cancelTimer(TimerID(attempt: attempt, kind: .timeout)))
        }
        let skipped = success.skipped != nil
        updateTask(attempt.task) {
            $0.state = skipped ? .skipped : .succeeded
            $0.output = success.output
            $0.warnings = success.warnings
            $0.attempts[$0.attempts.count - 1].finishedAt = now
            $0.attempts[$0.attempts.count - 1].outcome = skipped ? .skipped : .succeeded
        }
        if let reason = success.skipped {
            publish(.taskSkipped, run, task: attempt, output: success.output, warnings: success.warnings, reason: reason)
        } else {
            publish(.taskSucceeded, run, task: attempt, output: success.output, warnings: success.warnings)
        }
    }

    mutating func timedOut(_ attempt: AttemptID) {
        guard let (run, _) = inFlight(attempt) else { return }
        let limit = spec(run.dagID, attempt.taskID)?.timeout.map(DurationText.format) ?? "its limit"
        commands.append(.abandon(attempt, reason: "timed out"))
        finishAttempt(
            attempt, outcome: .timedOut,
            error: TaskFailure(message: "attempt \(attempt.tryNumber) ran longer than \(limit)", retryable: true, category: "timeout"))
    }

    /// Ends an in-flight try that did not succeed: a retry if the policy and the error allow, else failure.
    mutating func finishAttempt(_ attempt: AttemptID, outcome: AttemptOutcome, error: TaskFailure) {
        let now = self.now  // a copy: closures that edit state cannot also read self
        guard let (run, task) = inFlight(attempt), let spec = spec(run.dagID, attempt.taskID) else { return }
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
            let taskID = attempt.taskID
            updateRun(run.id) { $0.failure = $0.failure ?? "\(taskID) failed after \(task.tryNumber) tr\(task.tryNumber == 1 ? "y" : "ies"): \(error.message)" }
            publish(.taskFailed, run, task: attempt, error: error)
        }
    }

    mutating func timerFired(_ timer: TimerID) {
        switch timer.kind {
        case .timeout:
            timedOut(timer.attempt)
        case .retry:
            let waiting = state.peekRun(timer.attempt.runID) { run in
                run.state == .running
                    && run.tasks.peek(timer.attempt.taskID) { $0.state == .upForRetry && $0.tryNumber == timer.attempt.tryNumber } == true
            }
            guard waiting == true else { return }
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
        // A snapshot of the run before any change: its tasks are cancelled in id order from it.
        guard let run = state.runs[runID], !run.state.isTerminal else { return }
        let ref = RunRef(run)
        for taskID in run.tasks.keys.sorted() {
            let task = run.tasks[taskID]!
            guard !task.state.isTerminal else { continue }
            let attempt = AttemptID(runID: runID, taskID: taskID, tryNumber: task.tryNumber)
            switch task.state {
            case .scheduled, .running:
                releasePool(attempt)
                if task.state == .running, spec(run.dagID, taskID)?.timeout != nil {
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
            publish(.taskCancelled, ref, task: attempt, reason: reason)
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
        // Out of the active indexes; a cancelled run is nobody's previous run for depends_on_past.
        if run.state == .queued {
            state.index.queued[run.dagID]?.remove(QueuedRun(sequence: run.sequence, id: runID))
            if state.index.queued[run.dagID]?.isEmpty == true { state.index.queued[run.dagID] = nil }
        } else {
            leaveRunning(run.dagID, runID)
        }
        noteFinished(run.dagID, runID)
        if engine.plans[run.dagID]?.hasDependsOnPast == true {
            markPastSuccessors(dagID: run.dagID, logicalDate: run.logicalDate)
            let entry = PastEntry(logicalDate: run.logicalDate, sequence: run.sequence, id: runID)
            var order = state.pastOrder(of: run.dagID)
            state.index.past[run.dagID] = nil
            let i = order.partitioningIndex { !$0.precedes(entry) }
            if i < order.count && order[i].id == runID { order.remove(at: i) }
            state.index.past[run.dagID] = order
        }
        publish(.runCancelled, ref, reason: reason)
    }

    // MARK: Helpers

    func spec(_ dagID: String, _ taskID: String) -> TaskSpec? { engine.dags[dagID]?.task(taskID) }

    /// Edits a run in place and notes it for the store and for settle.
    mutating func updateRun(_ id: RunID, _ change: (inout DagRun) -> Void) {
        guard let sequence = state.withRun(id, { run in
            change(&run)
            return run.sequence
        }) else { return }
        touched.insert(id)
        dirty.mark(id, sequence: sequence)
        finishCandidates[id] = sequence
    }

    /// Edits a task in place. A change of its state may also change what depends_on_past lets the
    /// next run do.
    mutating func updateTask(_ key: TaskKey, _ change: (inout TaskInstance) -> Void) {
        var before = TaskState.pending
        var after = TaskState.pending
        var dagID = ""
        var logicalDate = Date.distantPast
        updateRun(key.runID) { run in
            // Found once, then read and changed by its index: four lookups by name were a fifth of
            // an update's time in a rebuild's replay.
            guard let index = run.tasks.index(forKey: key.taskID) else { return }
            before = run.tasks.values[index].state
            change(&run.tasks.values[index])
            after = run.tasks.values[index].state
            dagID = run.dagID
            logicalDate = run.logicalDate
        }
        let moved = after != before
        if moved { state.index.window.note(key, dagID: dagID, from: before, to: after) }
        if moved, engine.plans[dagID]?.hasDependsOnPast == true { markPastSuccessors(dagID: dagID, logicalDate: logicalDate) }
    }

    /// The runs whose previous run (by logical date, for depends_on_past) is the one at `logicalDate`:
    /// those at the next logical date. Marked for settle to look at again.
    mutating func markPastSuccessors(dagID: String, logicalDate: Date) {
        let order = state.pastOrder(of: dagID)
        var i = order.partitioningIndex { $0.logicalDate > logicalDate }
        guard i < order.count else { return }
        let next = order[i].logicalDate
        while i < order.count, order[i].logicalDate == next {
            dirty.mark(order[i].id, sequence: order[i].sequence)
            i += 1
        }
    }

    mutating func leaveRunning(_ dagID: String, _ id: RunID) {
        state.index.running[dagID]?.remove(id)
        if state.index.running[dagID]?.isEmpty == true { state.index.running[dagID] = nil }
    }

    mutating func noteFinished(_ dagID: String, _ id: RunID) {
        state.index.finished[dagID, default: []].append(id)
        state.index.finishedCount += 1
    }

    mutating func releasePool(_ attempt: AttemptID) {
        for name in state.pools.keys.sorted() {
            state.pools[name]!.holders.removeAll { $0.task == attempt.task }
        }
    }

    mutating func leavePoolQueue(_ key: TaskKey) {
        for name in state.pools.keys.sorted() {
            state.pools[name]!.removeWaiting(key)
        }
    }

    mutating func publish(
        _ kind: LifecycleEvent.Kind, _ run: RunRef, task attempt: AttemptID? = nil, output: JSONValue? = nil,
        error: TaskFailure? = nil, warnings: [String] = [], retryAt: Date? = nil, reason: String? = nil
    ) {
        var duration: Int64?
        if let attempt, kind != .taskScheduled,
            let started = state.peekRun(run.id, { $0.tasks.peek(attempt.taskID) { $0.currentAttempt } ?? nil }) ?? nil
        {
            let from = started.startedAt ?? started.scheduledAt
            duration = Int64((now.timeIntervalSince(from) * 1000).rounded())
        } else if attempt == nil, kind.rawValue.hasPrefix("run."), kind != .runStarted,
            let startedAt = state.peekRun(run.id, \.startedAt) ?? nil
        {
            duration = Int64((now.timeIntervalSince(startedAt) * 1000).rounded())
        }
        commands.append(.publish(LifecycleEvent(
            kind: kind, runID: run.id, dagID: run.dagID, logicalDate: run.logicalDate, at: now, trigger: run.trigger,
            taskID: attempt?.taskID, tryNumber: attempt?.tryNumber, output: output, error: error, warnings: warnings,
            durationMs: duration, retryAt: retryAt, reason: reason)))
    }
}

/// The runs settle's task phase must look at, in arrival order. Runs marked while a pass is under
/// way join it if they come later in arrival order, else wait for the next pass — exactly the runs
/// a pass over every running run in arrival order would find something to do in.
struct DirtyRuns {
    /// The pass under way: by arrival number, the next to look at last.
    private var current: [(sequence: Int, id: RunID)] = []
    private var inCurrent: Set<RunID> = []
    /// Marked for the next pass.
    private var next: [RunID: Int] = [:]
    /// The arrival number of the run being looked at; nil between passes.
    private var cursor: Int?

    var isEmpty: Bool { current.isEmpty && next.isEmpty }

    mutating func mark(_ id: RunID, sequence: Int) {
        if let cursor, sequence > cursor {
            guard inCurrent.insert(id).inserted else { return }
            let at = current.partitioningIndex { $0.sequence < sequence }
            current.insert((sequence, id), at: at)
        } else {
            next[id] = sequence
        }
    }

    mutating func beginPass() {
        current = next.map { (sequence: $0.value, id: $0.key) }.sorted { $0.sequence > $1.sequence }
        inCurrent = Set(next.keys)
        next = [:]
        cursor = Int.min
    }

    mutating func popNext() -> RunID? {
        guard let (sequence, id) = current.popLast() else { return nil }
        inCurrent.remove(id)
        cursor = sequence
        return id
    }

    mutating func endPass() { cursor = nil }
}

extension Collection {
    /// The first index whose element satisfies `belongs`, for a collection in which every element that
    /// satisfies it comes after every element that does not (a binary search).
    func partitioningIndex(where belongs: (Element) -> Bool) -> Index {
        var low = startIndex
        var count = self.count
        while count > 0 {
            let half = count / 2
            let mid = index(low, offsetBy: half)
            if belongs(self[mid]) {
                count = half
            } else {
                low = index(after: mid)
                count -= half + 1
            }
        }
        return low
    }
}
