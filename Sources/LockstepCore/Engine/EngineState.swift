import Foundation

/// Who holds a pool's slots and who waits, in order.
public struct PoolState: Sendable, Hashable, Codable {
    public var holders: [AttemptID] = []
    /// Tasks waiting for a slot, first in line first.
    public var waiting: [TaskKey] {
        get { head == 0 ? line : Array(line[head...]) }
        set {
            line = newValue
            head = 0
        }
    }
    /// `waiting` is `line[head...]`: taking the first in line moves `head` instead of shifting the array.
    private var line: [TaskKey] = []
    private var head = 0

    var hasWaiting: Bool { head < line.count }
    var waitingCount: Int { line.count - head }

    mutating func enqueue(_ key: TaskKey) { line.append(key) }

    mutating func dequeue() -> TaskKey? {
        guard head < line.count else { return nil }
        let key = line[head]
        head += 1
        if head == line.count {
            line.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= line.count {
            line.removeFirst(head)
            head = 0
        }
        return key
    }

    /// Takes a task out of the line wherever it stands (a cancelled run's queued task).
    mutating func removeWaiting(_ key: TaskKey) {
        guard line[head...].contains(key) else { return }
        line = line[head...].filter { $0 != key }
        head = 0
    }

    private enum CodingKeys: String, CodingKey { case holders, waiting }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        holders = try container.decode([AttemptID].self, forKey: .holders)
        line = try container.decode([TaskKey].self, forKey: .waiting)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(holders, forKey: .holders)
        try container.encode(Array(line[head...]), forKey: .waiting)
    }

    public static func == (a: PoolState, b: PoolState) -> Bool {
        a.holders == b.holders && a.line[a.head...].elementsEqual(b.line[b.head...])
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(holders)
        hasher.combine(waitingCount)
        for key in line[head...] { hasher.combine(key) }
    }
}

/// The engine's state: the runs it holds, pool occupancy and paused DAGs. Serialisable, so the
/// coordinator can persist it and `lockstep rebuild` can recompute it from the topics.
///
/// The engine indexes what a step needs (queued runs per DAG in arrival order, running runs per DAG,
/// the order of runs for depends_on_past), so a step's cost does not grow with the runs held. The
/// indexes are derived: they are not encoded and not compared, and `reindex()` rebuilds them. Code
/// outside the engine that edits `runs` directly (a store loading them) calls `reindex()` afterwards.
///
/// Finished runs stay in `runs` until `forgetFinishedRuns(keepingPerDag:keepingRecordsOf:)` drops
/// them (the coordinator does after committing them to the store, through
/// `Engine.forgetFinishedRuns(in:)`). What the engine still needs of a forgotten run can stay behind
/// in a compact record: that its id was used, and for depends_on_past its logical date and which
/// tasks succeeded. The coordinator keeps records only for DAGs with depends_on_past tasks, so its
/// memory does not grow with every run ever finished; it answers "was this id used?" from its store
/// (`knows` is false for a run forgotten without a record).
public struct EngineState: Sendable, Hashable, Codable {
    public var runs: [RunID: DagRun] = [:]
    public var pools: [String: PoolState] = [:]
    public var pausedDags: Set<String> = []
    public var nextSequence = 0
    /// Finished runs dropped from `runs`, by id: what duplicate requests and depends_on_past need of them.
    var forgotten: [RunID: ForgottenRun] = [:]
    /// Derived from `runs` and `forgotten`; see `RunIndex`.
    var index = RunIndex()

    public init() {}

    /// Runs not yet finished, in arrival order. Derived from `runs` (the engine keeps it indexed);
    /// settable only for source compatibility: an assignment changes nothing, `reindex()` recomputes it.
    public var activeRuns: [RunID] {
        get {
            var active: [(Int, RunID)] = []
            for (_, queue) in index.queued { active += queue.items.map { ($0.sequence, $0.id) } }
            for (_, ids) in index.running {
                for id in ids { active.append((readRun(id, \.sequence) ?? 0, id)) }
            }
            return active.sorted { $0.0 < $1.0 }.map(\.1)
        }
        set {}
    }

    /// Runs in arrival order.
    public var orderedRuns: [DagRun] { runs.values.sorted { $0.sequence < $1.sequence } }

    /// Unfinished runs in arrival order.
    public var orderedActiveRuns: [DagRun] { activeRuns.compactMap { runs[$0] } }

    public func runs(of dagID: String) -> [DagRun] { orderedRuns.filter { $0.dagID == dagID } }

    /// Finished runs still held in `runs` (those `forgetFinishedRuns` would look at).
    public var finishedRunsHeld: Int { index.finishedCount }

    /// Drops all but the newest `keep` finished runs of each DAG from `runs` (a store keeps them all).
    /// Of the DAGs `keepingRecordsOf` names, a compact record of each run stays: a repeated request
    /// for it is still a no-op, and depends_on_past still sees its tasks' outcomes. Of the others
    /// nothing stays: a repeated request would start the run again, so whoever forgets them must
    /// screen requests for ids it has stored (as the coordinator does). Costs the number of finished
    /// runs held, not the number of runs.
    ///
    /// `handingOver` receives each run as it leaves, for a caller that writes them itself (a rebuild).
    public mutating func forgetFinishedRuns(
        keepingPerDag keep: Int, keepingRecordsOf recorded: (String) -> Bool = { _ in true }, handingOver: (DagRun) -> Void = { _ in }
    ) {
        guard index.finishedCount > 0 else { return }
        for dagID in index.finished.keys.sorted() {
            var held = index.finished[dagID]!
            guard held.count > max(0, keep) else { continue }
            held.sort { (readRun($0, \.sequence) ?? 0) > (readRun($1, \.sequence) ?? 0) }
            var lastPassed: [String] = []  // shared by the records that have the same (most do)
            let records = recorded(dagID)
            for id in held.dropFirst(max(0, keep)) {
                guard let run = runs.removeValue(forKey: id) else { continue }
                handingOver(run)
                guard records else { continue }
                var record = ForgottenRun(run)
                if record.passedTasks == lastPassed { record.passedTasks = lastPassed } else { lastPassed = record.passedTasks }
                forgotten[id] = record
            }
            let kept = Array(held.prefix(max(0, keep)))
            index.finishedCount -= held.count - kept.count
            index.finished[dagID] = kept.isEmpty ? nil : kept
        }
        // A dictionary keeps the capacity of its largest size: after a burst of queued runs (a
        // backfill of thousands) the table would hold megabytes of empty slots for good.
        if runs.capacity > 1024 && runs.count < runs.capacity / 8 {
            runs = Dictionary(minimumCapacity: runs.count * 2).merging(runs) { first, _ in first }
        }
    }

    /// Recomputes the indexes from `runs` and the forgotten records (after loading runs from a store,
    /// or editing `runs` directly). The next step then looks at every running run once.
    public mutating func reindex() {
        index = RunIndex(runs: runs)
    }

    /// Whether a run with this id exists or existed (held, or finished and forgotten).
    public func knows(_ id: RunID) -> Bool { runs.index(forKey: id) != nil || forgotten.index(forKey: id) != nil }

    /// The trace of a held run, read in place (the coordinator stamps it on the run's events).
    public func trace(of id: RunID) -> TraceContext? { readRun(id, \.trace) ?? nil }

    /// Reads from a held run. `Dictionary.Values`'s getter may hand the closure a copy of the run;
    /// the engine's step, which can write, reads through `peekRun` instead.
    @inline(__always)
    func readRun<R>(_ id: RunID, _ read: (DagRun) -> R) -> R? {
        guard let i = runs.index(forKey: id) else { return nil }
        return read(runs.values[i])
    }

    /// `readRun` through the in-place accessor, for the engine's step, which holds the only reference
    /// to the state: `Dictionary.Values`'s getter hands `readRun`'s closure a copy of the run (each of
    /// its fields retained and released again), the in-place accessor lends it. Nothing is written.
    @inline(__always)
    mutating func peekRun<R>(_ id: RunID, _ read: (DagRun) -> R) -> R? {
        withRun(id) { read($0) }
    }

    /// Changes a held run in place.
    @inline(__always)
    mutating func withRun<R>(_ id: RunID, _ change: (inout DagRun) -> R) -> R? {
        guard let i = runs.index(forKey: id) else { return nil }
        return change(&runs.values[i])
    }

    // MARK: Codable and equality: the indexes are derived, so neither encoded nor compared.

    private enum CodingKeys: String, CodingKey { case runs, pools, pausedDags, nextSequence, activeRuns, forgotten }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        runs = try container.decode([RunID: DagRun].self, forKey: .runs)
        pools = try container.decode([String: PoolState].self, forKey: .pools)
        pausedDags = try container.decode(Set<String>.self, forKey: .pausedDags)
        nextSequence = try container.decode(Int.self, forKey: .nextSequence)
        forgotten = try container.decodeIfPresent([RunID: ForgottenRun].self, forKey: .forgotten) ?? [:]
        reindex()
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(runs, forKey: .runs)
        try container.encode(pools, forKey: .pools)
        try container.encode(pausedDags, forKey: .pausedDags)
        try container.encode(nextSequence, forKey: .nextSequence)
        try container.encode(activeRuns, forKey: .activeRuns)
        if !forgotten.isEmpty { try container.encode(forgotten, forKey: .forgotten) }
    }

    public static func == (a: EngineState, b: EngineState) -> Bool {
        a.nextSequence == b.nextSequence && a.pausedDags == b.pausedDags && a.pools == b.pools && a.runs == b.runs
            && a.forgotten == b.forgotten
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(runs)
        hasher.combine(pools)
        hasher.combine(pausedDags)
        hasher.combine(nextSequence)
        hasher.combine(forgotten)
    }
}

/// What the engine keeps of a finished run it no longer holds.
struct ForgottenRun: Sendable, Hashable, Codable {
    var dagID: String
    var logicalDate: Date
    var sequence: Int
    var state: RunState
    /// Tasks that succeeded or were skipped: a later run's depends_on_past task may go after these.
    var passedTasks: [String]

    init(_ run: DagRun) {
        dagID = run.dagID
        logicalDate = run.logicalDate
        sequence = run.sequence
        state = run.state
        passedTasks = run.state == .cancelled ? [] : run.tasks.values.filter { $0.state.passesDependsOnPast }.map(\.taskID).sorted()
    }
}

extension TaskState {
    /// What depends_on_past asks of the same task in the previous run.
    var passesDependsOnPast: Bool { self == .succeeded || self == .skipped }
}

/// One run in a DAG's depends_on_past order: by logical date, then arrival.
struct PastEntry: Sendable, Hashable {
    var logicalDate: Date
    var sequence: Int
    var id: RunID

    func precedes(_ other: PastEntry) -> Bool { (logicalDate, sequence) < (other.logicalDate, other.sequence) }
}

/// A queued run: its arrival number and id.
struct QueuedRun: Sendable, Hashable {
    var sequence: Int
    var id: RunID
}

/// A DAG's queued runs in arrival order: a FIFO that starts them first come, first served.
struct RunQueue: Sendable, Hashable {
    private var storage: [QueuedRun] = []
    private var head = 0

    var items: ArraySlice<QueuedRun> { storage[head...] }
    var isEmpty: Bool { head == storage.count }
    var first: QueuedRun? { head < storage.count ? storage[head] : nil }

    /// Runs arrive with ever larger sequence numbers, so appending keeps the order (a reindex sorts).
    mutating func append(_ run: QueuedRun) { storage.append(run) }

    mutating func popFirst() -> QueuedRun? {
        guard head < storage.count else { return nil }
        let run = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return run
    }

    /// Takes out a run wherever it stands (cancelled while queued): found by binary search on arrival.
    mutating func remove(_ run: QueuedRun) {
        var low = head
        var high = storage.count
        while low < high {
            let mid = (low + high) / 2
            if storage[mid].sequence < run.sequence { low = mid + 1 } else { high = mid }
        }
        if low < storage.count && storage[low].id == run.id { storage.remove(at: low) }
    }
}

/// What settle needs, kept up to date by each step instead of being found by walking every run.
struct RunIndex: Sendable {
    /// Queued runs per DAG, in arrival order. DAGs with none have no entry.
    var queued: [String: RunQueue] = [:]
    /// Running runs per DAG (their count is what max_active_runs limits). DAGs with none have no entry.
    var running: [String: Set<RunID>] = [:]
    /// Finished runs still held in `runs`, per DAG, in the order they finished.
    var finished: [String: [RunID]] = [:]
    var finishedCount = 0
    /// For DAGs with depends_on_past tasks: every run not cancelled (held or forgotten) in
    /// logical-date order, so a run's previous run is a binary search away. Built on first use.
    var past: [String: [PastEntry]] = [:]
    /// After a reindex the engine looks at every running run once (a DAG's spec may have changed
    /// since the state was saved); afterwards only at the runs an event can change.
    var sweepPending = false
    /// Attempts dispatched and not started, and the tasks waiting for room among them (only used
    /// when the deployment sets `dispatch_window`).
    var window = DispatchWindowIndex()

    init() {}

    init(runs: [RunID: DagRun]) {
        window = DispatchWindowIndex(runs: runs)
        var queuedRuns: [String: [QueuedRun]] = [:]
        for run in runs.values {
            switch run.state {
            case .queued: queuedRuns[run.dagID, default: []].append(QueuedRun(sequence: run.sequence, id: run.id))
            case .running: running[run.dagID, default: []].insert(run.id)
            case .succeeded, .failed, .cancelled:
                finished[run.dagID, default: []].append(run.id)
                finishedCount += 1
            }
        }
        for (dagID, list) in queuedRuns {
            var queue = RunQueue()
            for run in list.sorted(by: { $0.sequence < $1.sequence }) { queue.append(run) }
            queued[dagID] = queue
        }
        for dagID in finished.keys { finished[dagID]!.sort { (runs.peek($0, \.sequence) ?? 0) < (runs.peek($1, \.sequence) ?? 0) } }
        sweepPending = !running.isEmpty
    }
}

extension EngineState {
    /// The depends_on_past order of a DAG's runs, built from the runs held and forgotten on first use.
    mutating func pastOrder(of dagID: String) -> [PastEntry] {
        if let entries = index.past[dagID] { return entries }
        let entries = computedPastOrder(of: dagID)
        index.past[dagID] = entries
        return entries
    }

    func computedPastOrder(of dagID: String) -> [PastEntry] {
        var entries: [PastEntry] = []
        for run in runs.values where run.dagID == dagID && run.state != .cancelled {
            entries.append(PastEntry(logicalDate: run.logicalDate, sequence: run.sequence, id: run.id))
        }
        for (id, run) in forgotten where run.dagID == dagID && run.state != .cancelled {
            entries.append(PastEntry(logicalDate: run.logicalDate, sequence: run.sequence, id: id))
        }
        return entries.sorted { $0.precedes($1) }
    }

    /// Problems with the indexes, found by recomputing them from scratch; empty when consistent.
    /// For tests: it walks every run.
    package func indexProblems() -> [String] {
        var problems: [String] = []
        let fresh = RunIndex(runs: runs)
        let queued = index.queued.mapValues { $0.items.map(\.id) }
        let freshQueued = fresh.queued.mapValues { $0.items.map(\.id) }
        if queued != freshQueued { problems.append("queued runs \(queued), expected \(freshQueued)") }
        if index.queued.values.contains(where: \.isEmpty) { problems.append("an empty queue is kept") }
        if index.running != fresh.running { problems.append("running runs \(index.running), expected \(fresh.running)") }
        if index.running.values.contains(where: \.isEmpty) { problems.append("an empty running set is kept") }
        if index.finished.mapValues(Set.init) != fresh.finished.mapValues(Set.init) || index.finishedCount != fresh.finishedCount {
            problems.append("finished runs held \(index.finished) (\(index.finishedCount)), expected \(fresh.finished) (\(fresh.finishedCount))")
        }
        for (dagID, entries) in index.past where entries != computedPastOrder(of: dagID) {
            problems.append("depends_on_past order of \(dagID): \(entries.map(\.id)), expected \(computedPastOrder(of: dagID).map(\.id))")
        }
        if index.window.dispatched != fresh.window.dispatched || index.window.dispatchedCount != fresh.window.dispatchedCount {
            problems.append("dispatched attempts \(index.window.dispatched) (\(index.window.dispatchedCount)), expected \(fresh.window.dispatched)")
        }
        for (dagID, tasks) in index.window.line {
            if tasks.isEmpty { problems.append("an empty dispatch line is kept for \(dagID)") }
            if !zip(tasks, tasks.dropFirst()).allSatisfy({ $1.precedes($0) }) { problems.append("the dispatch line of \(dagID) is out of order") }
        }
        if Set(index.window.line.values.joined().map(\.key)) != index.window.lined { problems.append("dispatch line and its key set differ") }
        let overlap = Set(forgotten.keys).intersection(runs.keys)
        if !overlap.isEmpty { problems.append("runs both held and forgotten: \(overlap.sorted())") }
        let active = runs.values.filter { !$0.state.isTerminal }.sorted { $0.sequence < $1.sequence }.map(\.id)
        if activeRuns != active { problems.append("active runs \(activeRuns), expected \(active)") }
        return problems
    }
}

extension Dictionary {
    /// Reads from a value in place, without copying it out.
    @inline(__always)
    func peek<R>(_ key: Key, _ read: (Value) -> R) -> R? {
        guard let i = index(forKey: key) else { return nil }
        return read(values[i])
    }
}
