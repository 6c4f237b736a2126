import Foundation

/// After every event the engine "settles": it starts queued runs the DAG's limit allows, moves tasks
/// whose upstream is decided, hands free pool slots to waiting tasks in order, and finishes runs whose
/// tasks are all done — repeating until nothing changes. Runs are visited in arrival order and tasks in
/// declaration order, so the outcome never depends on dictionary order.
///
/// Each phase looks only at what the event can have changed, never at every run held: the DAGs with
/// queued runs (a handful of index lookups), the runs marked in `dirty` (changed, started, or whose
/// previous run changed for depends_on_past), the pools' waiting lines, and the runs in
/// `finishCandidates`. The outcome and the order of commands are those of a pass over every run: a
/// run nobody marked has nothing to do.
extension Step {
    mutating func settle() {
        if state.index.sweepPending {
            // Freshly reindexed: the state may come from an engine with other specs, so look at every
            // running run once.
            state.index.sweepPending = false
            for ids in state.index.running.values {
                for id in ids {
                    guard let sequence = state.peekRun(id, \.sequence) else { continue }
                    dirty.mark(id, sequence: sequence)
                    finishCandidates[id] = sequence
                }
            }
        }
        var changed = true
        while changed {
            changed = false
            changed = startQueuedRuns() || changed
            changed = advanceTasks() || changed
            changed = grantPoolSlots() || changed
            changed = grantDispatchWindow() || changed
            changed = finishRuns() || changed
        }
    }

    private mutating func startQueuedRuns() -> Bool {
        let now = self.now  // a copy: closures that edit state cannot also read self
        guard !state.index.queued.isEmpty else { return false }
        var changed = false
        for dagID in state.index.queued.keys.sorted() {
            guard let dag = engine.dags[dagID], !state.pausedDags.contains(dagID) else { continue }
            var active = state.index.running[dagID]?.count ?? 0
            while active < dag.maxActiveRuns, let next = state.index.queued[dagID]?.popFirst() {
                statistics.runsVisited += 1
                if state.index.queued[dagID]?.isEmpty == true { state.index.queued[dagID] = nil }
                state.index.running[dagID, default: []].insert(next.id)
                updateRun(next.id) {
                    $0.state = .running
                    $0.startedAt = now
                }
                if let run = state.peekRun(next.id, RunRef.init) { publish(.runStarted, run) }
                active += 1
                changed = true
            }
        }
        return changed
    }

    private mutating func advanceTasks() -> Bool {
        var changed = false
        dirty.beginPass()
        defer { dirty.endPass() }
        while let id = dirty.popNext() {
            statistics.runsVisited += 1
            guard let run = state.peekRun(id, { $0.state == .running ? RunRef($0) : nil }) ?? nil,
                let dag = engine.dags[run.dagID]
            else { continue }
            // Only the tasks pending when the run is visited: nothing in the pass makes a task
            // pending again, and binding every task's spec copied it (its strings and arrays
            // retained) for the tasks long past that, most of them in a run under way.
            let pending = state.peekRun(id) { current in
                dag.tasks.indices.filter { current.tasks.peek(dag.tasks[$0].id, \.state) == .pending }
            } ?? []
            for position in pending {
                let spec = dag.tasks[position]
                // The task and its upstream states, read in place.
                let facts = state.peekRun(id) { current -> (TaskFacts, String?, [TaskState])? in
                    guard let task = current.tasks.peek(spec.id, { ($0.state, $0.tryNumber, $0.maxTries, $0.waitingFor) }),
                        task.0 == .pending
                    else { return nil }
                    let upstream = spec.upstream.compactMap { current.tasks.peek($0, \.state) }
                    return (TaskFacts(state: task.0, tryNumber: task.1, maxTries: task.2), task.3, upstream)
                } ?? nil
                guard let (task, waitingFor, upstream) = facts else { continue }
                let key = TaskKey(runID: id, taskID: spec.id)
                var readiness = spec.triggerRule.evaluate(upstream)
                if readiness == .ready, spec.dependsOnPast, let blocker = pastBlocker(run, spec) {
                    if waitingFor != blocker { updateTask(key) { $0.waitingFor = blocker } }
                    readiness = .wait
                }
                switch readiness {
                case .wait:
                    continue
                case .skip:
                    updateTask(key) { $0.state = .skipped }
                    publish(.taskSkipped, run, task: AttemptID(runID: id, taskID: spec.id, tryNumber: task.tryNumber))
                case .upstreamFailed:
                    updateTask(key) { $0.state = .upstreamFailed }
                    publish(.taskUpstreamFailed, run, task: AttemptID(runID: id, taskID: spec.id, tryNumber: task.tryNumber))
                case .ready:
                    if let pool = spec.pool {
                        updateTask(key) {
                            $0.state = .queued
                            $0.waitingFor = "a slot in pool \(pool)"
                        }
                        state.pools[pool, default: PoolState()].enqueue(key)
                        publish(.taskQueued, run, task: AttemptID(runID: id, taskID: spec.id, tryNumber: task.tryNumber + 1))
                    } else if engine.dispatchWindow != nil {
                        // Every ready task lines up, even with room in the window: one that got
                        // ready later must not pass those already waiting. grantDispatchWindow takes them.
                        let lined = DispatchWindowIndex.LinedTask(sequence: run.sequence, position: position, key: key)
                        guard state.index.window.lineUp(lined, dagID: run.dagID) else { continue }
                        if waitingFor != Self.dispatchWindowReason { updateTask(key) { $0.waitingFor = Self.dispatchWindowReason } }
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
    private mutating func pastBlocker(_ run: RunRef, _ spec: TaskSpec) -> String? {
        let order = state.pastOrder(of: run.dagID)
        let i = order.partitioningIndex { $0.logicalDate >= run.logicalDate }
        guard i > 0 else { return nil }
        let previous = order[i - 1].id
        statistics.runsVisited += 1
        let passed: Bool
        if let held = state.peekRun(previous, { $0.tasks.peek(spec.id, \.state)?.passesDependsOnPast == true }) {
            passed = held
        } else {
            passed = state.forgotten[previous]?.passedTasks.contains(spec.id) == true
        }
        if passed { return nil }
        return "\(spec.id) in the previous run \(previous) (depends_on_past)"
    }

    private mutating func grantPoolSlots() -> Bool {
        var changed = false
        guard !state.pools.isEmpty else { return false }
        for name in state.pools.keys.sorted() {
            let slots = engine.pools[name]?.slots ?? 1
            while (state.pools.peek(name, \.holders.count) ?? slots) < slots, let key = state.pools[name]!.dequeue() {
                statistics.runsVisited += 1
                let waiting = state.peekRun(key.runID) { run in
                    run.state == .running && run.tasks.peek(key.taskID, \.state) == .queued ? run.dagID : nil
                } ?? nil
                guard let dagID = waiting, let spec = spec(dagID, key.taskID) else { continue }
                dispatch(key, spec: spec)
                changed = true
            }
        }
        return changed
    }

    /// What a ready task shows while it waits for a place in the dispatch window.
    static let dispatchWindowReason = "a place in the dispatch window (dispatch_window)"

    /// Hands the window's free places to lined-up tasks, each to the DAG with the fewest attempts
    /// dispatched and not started, so a backlog of one DAG cannot hold back another's tasks. Pooled
    /// tasks do not wait here (their pool limits them) but count while dispatched.
    private mutating func grantDispatchWindow() -> Bool {
        guard let window = engine.dispatchWindow, !state.index.window.line.isEmpty else { return false }
        var changed = false
        while state.index.window.dispatchedCount < window, let dagID = state.index.window.nextDag() {
            guard let key = state.index.window.takeFirst(of: dagID) else { continue }
            statistics.runsVisited += 1
            // Still ready: not cancelled, nor its run finished, while it waited.
            let ready = state.peekRun(key.runID) { $0.state == .running && $0.tasks.peek(key.taskID, \.state) == .pending } ?? false
            guard ready, let spec = spec(dagID, key.taskID) else { continue }
            dispatch(key, spec: spec)
            changed = true
        }
        return changed
    }

    /// A result for the next try of a task still waiting in the window: that try was dispatched by
    /// an earlier decision this state does not hold (`lockstep rebuild` replaying the log in another
    /// order than the coordinator consumed it, where another DAG's attempt took the place first). It
    /// is dispatched now, so the result counts instead of being dropped as stale.
    mutating func adoptLined(_ attempt: AttemptID) {
        guard engine.dispatchWindow != nil, state.index.window.lined.contains(attempt.task) else { return }
        let waiting = state.peekRun(attempt.runID) { run -> String? in
            guard run.state == .running,
                run.tasks.peek(attempt.taskID, { $0.state == .pending && $0.tryNumber + 1 == attempt.tryNumber }) == true
            else { return nil }
            return run.dagID
        } ?? nil
        guard let dagID = waiting, let spec = spec(dagID, attempt.taskID) else { return }
        state.index.window.remove(attempt.task, dagID: dagID)
        dispatch(attempt.task, spec: spec)
    }

    /// Dispatches the next try of a ready task, taking its pool slot.
    mutating func dispatch(_ key: TaskKey, spec: TaskSpec) {
        let now = self.now  // a copy: closures that edit state cannot also read self
        guard let (run, conf, task) = state.peekRun(key.runID, { run -> (RunRef, JSONValue, TaskFacts)? in
            guard let task = run.tasks.peek(key.taskID, { TaskFacts(state: $0.state, tryNumber: $0.tryNumber, maxTries: $0.maxTries) })
            else { return nil }
            return (RunRef(run), run.conf, task)
        }) ?? nil, let plan = engine.plans[run.dagID] else { return }
        let attempt = AttemptID(runID: key.runID, taskID: key.taskID, tryNumber: task.tryNumber + 1)
        if let pool = spec.pool { state.pools[pool, default: PoolState()].holders.append(attempt) }
        updateTask(key) {
            $0.state = .scheduled
            $0.tryNumber = attempt.tryNumber
            $0.waitingFor = nil
            $0.attempts.append(TaskAttempt(tryNumber: attempt.tryNumber, scheduledAt: now))
        }
        var inputs: [String: JSONValue] = [:]
        state.peekRun(key.runID) { current in
            for ancestor in plan.ancestors[key.taskID] ?? [] {
                if let output = current.tasks.peek(ancestor, { $0.state == .succeeded ? $0.output : nil }) ?? nil {
                    inputs[ancestor] = output
                }
            }
        }
        commands.append(.dispatch(TaskDispatch(
            attempt: attempt, dagID: run.dagID, logicalDate: run.logicalDate, operator: spec.operator, params: spec.params,
            conf: conf, inputs: inputs, timeout: spec.timeout, maxTries: task.maxTries, pool: spec.pool)))
        publish(.taskScheduled, run, task: attempt)
    }

    private mutating func finishRuns() -> Bool {
        let now = self.now  // a copy: closures that edit state cannot also read self
        guard !finishCandidates.isEmpty else { return false }
        var changed = false
        let candidates = finishCandidates.sorted { $0.value < $1.value }.map(\.key)
        finishCandidates = [:]
        for id in candidates {
            statistics.runsVisited += 1
            guard let run = state.peekRun(id, { $0.state == .running && $0.tasks.values.allSatisfy(\.state.isTerminal) ? RunRef($0) : nil }) ?? nil,
                let plan = engine.plans[run.dagID]
            else { continue }
            // As in Airflow, the leaves decide: a failure handled by an all_done leaf still succeeds.
            let failedLeaf = state.peekRun(id) { current in
                plan.leafTaskIDs.contains { [.failed, .upstreamFailed].contains(current.tasks.peek($0, \.state)) }
            } ?? false
            updateRun(id) {
                $0.state = failedLeaf ? .failed : .succeeded
                $0.finishedAt = now
                if failedLeaf && $0.failure == nil { $0.failure = "upstream tasks failed" }
            }
            finishCandidates[id] = nil
            leaveRunning(run.dagID, id)
            noteFinished(run.dagID, id)
            if failedLeaf {
                publish(.runFailed, run, reason: state.peekRun(id, \.failure) ?? nil)
            } else {
                let (outputs, warnings) = state.peekRun(id) { finished -> ([String: JSONValue], [String]) in
                    var outputs: [String: JSONValue] = [:]
                    for (taskID, task) in finished.tasks { if let output = task.output { outputs[taskID] = output } }
                    return (outputs, finished.warnings)
                } ?? ([:], [])
                publish(.runSucceeded, run, output: .object(outputs), warnings: warnings)
                requestDownstreamRuns(of: run, plan: plan)
            }
            changed = true
        }
        return changed
    }

    /// DAGs that declare `trigger_on` this one get a run request, with an id derived from this run so
    /// that a repeated success never starts two.
    private mutating func requestDownstreamRuns(of run: RunRef, plan: DagPlan) {
        // The downstream run joins this run's trace, as a child of its run span.
        let trace = (state.peekRun(run.id, \.trace) ?? nil).map {
            TraceContext(traceID: $0.traceID, parentSpanID: TraceContext.runSpanID(run.id), flags: $0.flags, tracestate: $0.tracestate)
        }
        for dagID in plan.downstreamDags {
            commands.append(.requestRun(RunRequest(
                runID: "\(dagID)@after:\(run.id)", dagID: dagID, logicalDate: run.logicalDate,
                conf: .emptyObject, trigger: .upstream(dagID: run.dagID, runID: run.id), trace: trace)))
        }
    }
}
