import Foundation

/// After every event the engine "settles": it starts queued runs the DAG's limit allows, moves tasks
/// whose upstream is decided, hands free pool slots to waiting tasks in order, and finishes runs whose
/// tasks are all done — repeating until nothing changes. Runs are visited in arrival order and tasks in
/// declaration order, so the outcome never depends on dictionary order.
extension Step {
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
                        state.pools[pool, default: PoolState()].waiting.append(key)
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
        if let pool = spec.pool { state.pools[pool, default: PoolState()].holders.append(attempt) }
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
                conf: .emptyObject, trigger: .upstream(dagID: run.dagID, runID: run.id))))
        }
    }
}
