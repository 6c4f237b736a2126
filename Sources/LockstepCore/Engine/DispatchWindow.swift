/// Attempts dispatched but not yet started, and the ready tasks waiting for room among them.
///
/// Without a window every ready task is dispatched at once, so a DAG with many runs (a backfill) puts
/// its commands on the command topic ahead of every other DAG's, and workers take them first come
/// first served: another DAG's task waits behind the whole backlog's. With `dispatch_window: N` the
/// coordinator keeps at most N attempts dispatched and not started (about the worker slots, plus
/// room for the hand-off), and hands each freed place to the DAG with the fewest attempts in the
/// window: a DAG that just arrived is served next, whatever the backlog of another.
///
/// Derived like the other indexes: `dispatched` from the tasks in `scheduled` state, and the line
/// rebuilt by the sweep after a reindex (every running run is looked at again, and a ready task
/// lines up once more), in the same order: by run arrival, then declaration.
struct DispatchWindowIndex: Sendable {
    /// Tasks in `scheduled` state (dispatched, not started) of held runs, per DAG.
    var dispatched: [String: Set<TaskKey>] = [:]
    var dispatchedCount = 0
    /// Ready tasks waiting for room, per DAG, last first: sorted by (run sequence, declaration
    /// position) descending, so taking the first in line is a `popLast`. DAGs with none have no entry.
    var line: [String: [LinedTask]] = [:]
    /// The keys in `line`, so a ready task seen again lines up once.
    var lined: Set<TaskKey> = []

    struct LinedTask: Sendable, Hashable {
        var sequence: Int
        var position: Int
        var key: TaskKey

        func precedes(_ other: LinedTask) -> Bool { (sequence, position) < (other.sequence, other.position) }
    }

    init() {}

    init(runs: [RunID: DagRun]) {
        for run in runs.values where run.state == .running {
            for (taskID, task) in run.tasks where task.state == .scheduled {
                dispatched[run.dagID, default: []].insert(TaskKey(runID: run.id, taskID: taskID))
                dispatchedCount += 1
            }
        }
    }

    /// Follows a task's change of state: in the window while `scheduled`.
    mutating func note(_ key: TaskKey, dagID: String, from before: TaskState, to after: TaskState) {
        if before == .scheduled, dispatched[dagID]?.remove(key) != nil {
            dispatchedCount -= 1
            if dispatched[dagID]?.isEmpty == true { dispatched[dagID] = nil }
        }
        if after == .scheduled, dispatched[dagID, default: []].insert(key).inserted { dispatchedCount += 1 }
    }

    /// Puts a ready task in its DAG's line; false when it already stands there.
    mutating func lineUp(_ task: LinedTask, dagID: String) -> Bool {
        guard lined.insert(task.key).inserted else { return false }
        var tasks = line.removeValue(forKey: dagID) ?? []
        let i = tasks.partitioningIndex { $0.precedes(task) }
        tasks.insert(task, at: i)
        line[dagID] = tasks
        return true
    }

    /// The DAG the next free place goes to: the one with the fewest attempts in the window, ties to
    /// the smaller id.
    func nextDag() -> String? {
        var best: (count: Int, dagID: String)?
        for dagID in line.keys {
            let count = dispatched[dagID]?.count ?? 0
            if let current = best, (current.count, current.dagID) <= (count, dagID) { continue }
            best = (count, dagID)
        }
        return best?.dagID
    }

    /// Takes a task out of its DAG's line wherever it stands.
    mutating func remove(_ key: TaskKey, dagID: String) {
        guard lined.remove(key) != nil, var tasks = line.removeValue(forKey: dagID) else { return }
        tasks.removeAll { $0.key == key }
        if !tasks.isEmpty { line[dagID] = tasks }
    }

    /// Takes the first task of a DAG's line.
    mutating func takeFirst(of dagID: String) -> TaskKey? {
        guard var tasks = line.removeValue(forKey: dagID), !tasks.isEmpty else { return nil }
        let first = tasks.removeLast()
        if !tasks.isEmpty { line[dagID] = tasks }
        lined.remove(first.key)
        return first.key
    }
}
