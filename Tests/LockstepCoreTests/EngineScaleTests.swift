import Foundation
import LockstepTestSupport
import Testing

@testable import LockstepCore

/// A step's work does not grow with the runs held: counted in runs visited, not timed.
@Suite struct EngineScaleTests {
    static let chain = dag("d", maxActiveRuns: 64, tasks: (0..<5).map { task("t\($0)", after: $0 == 0 ? [] : ["t\($0 - 1)"]) })

    /// The runs each step of finishing one run visits, with `queued` runs waiting behind the 64 running.
    func visitsFinishingOneRun(queued: Int) -> (visits: [Int], touched: [Int], held: Int) {
        let engine = Engine(dags: [Self.chain], config: .empty)
        var state = EngineState()
        for i in 0..<(64 + queued) {
            let date = t0.addingTimeInterval(Double(i) * 3600)
            _ = engine.apply(.runRequested(RunRequest(runID: "r\(i)", dagID: "d", logicalDate: date, trigger: .backfill)), to: &state, now: t0)
        }
        var visits: [Int] = []
        var touched: [Int] = []
        for i in 0..<5 {
            for event in [EngineEvent.taskStarted(attempt("r0", "t\(i)"), worker: "w"), .taskSucceeded(attempt("r0", "t\(i)"), TaskSuccess())] {
                let result = engine.applyMeasuring(event, to: &state, now: t0.addingTimeInterval(1))
                visits.append(result.statistics.runsVisited)
                touched.append(result.touched.count)
            }
        }
        #expect(state.runs["r0"]?.state == .succeeded)
        #expect(state.runs["r64"]?.state == .running, "finishing a run starts the next queued one")
        #expect(state.runs["r65"]?.state == .queued)
        return (visits, touched, state.runs.count)
    }

    @Test func aStepVisitsAsManyRunsWith10000QueuedAsWith100() {
        let small = visitsFinishingOneRun(queued: 100)
        let large = visitsFinishingOneRun(queued: 10_000)
        #expect(large.held == 10_064)
        #expect(large.visits == small.visits)
        #expect(large.touched == small.touched)
        // A start or a success of a task in a run visits that run; the last one also finishes it and
        // starts the next queued run (a few looks at each).
        #expect(large.visits.max()! <= 8, "\(large.visits)")
        #expect(large.visits.reduce(0, +) <= 30, "\(large.visits)")
    }

    @Test func aRequestBehindManyQueuedRunsVisitsNone() {
        let engine = Engine(dags: [Self.chain], config: .empty)
        var state = EngineState()
        var last = StepStatistics()
        for i in 0..<5_000 {
            last = engine.applyMeasuring(.runRequested(RunRequest(runID: "r\(i)", dagID: "d", logicalDate: t0)), to: &state, now: t0).statistics
        }
        #expect(last.runsVisited == 0)
        #expect(state.activeRuns.count == 5_000)
    }

    @Test func aFreedPoolSlotVisitsTheNextWaiterOnly() {
        let engine = Engine(
            dags: [dag("p", maxActiveRuns: 10_000, tasks: [task("a", pool: "ml")])],
            config: LockstepConfig(pools: ["ml": PoolSpec(slots: 1)]))
        var state = EngineState()
        for i in 0..<3_000 {
            _ = engine.apply(.runRequested(RunRequest(runID: "r\(i)", dagID: "p", logicalDate: t0)), to: &state, now: t0)
        }
        #expect(state.pools["ml"]?.waiting.count == 2_999)
        _ = engine.apply(.taskStarted(attempt("r0", "a"), worker: "w"), to: &state, now: t0)
        let result = engine.applyMeasuring(.taskSucceeded(attempt("r0", "a"), TaskSuccess()), to: &state, now: t0)
        #expect(result.commands.contains { if case .dispatch(let d) = $0 { d.attempt == attempt("r1", "a") } else { false } })
        #expect(result.statistics.runsVisited <= 6, "\(result.statistics)")
        #expect(state.indexProblems() == [])
    }
}

/// Finished runs can leave memory without changing what the engine does.
@Suite struct EngineForgettingTests {
    @Test func forgottenRunsLeaveButDuplicatesStayNoOps() {
        var h = EngineHarness([dag("d", maxActiveRuns: 2, tasks: [task("a"), task("b", after: ["a"])])])
        for i in 0..<50 {
            h.trigger("d", run: "r\(i)")
            h.complete(attempt("r\(i)", "a"))
            h.complete(attempt("r\(i)", "b"))
            h.state.forgetFinishedRuns(keepingPerDag: 0)
        }
        #expect(h.state.runs.isEmpty)
        #expect(h.state.finishedRunsHeld == 0)
        #expect(h.state.forgotten.count == 50)
        let before = h.state
        h.trigger("d", run: "r7")
        #expect(h.last.isEmpty && h.state == before, "a redelivered request for a finished, forgotten run starts nothing")
        h.send(.scheduleTick(ScheduleTick(dagID: "d", logicalDate: t0)))
        let tick = RunID.scheduled(dagID: "d", logicalDate: t0)
        h.complete(attempt(tick, "a"))
        h.complete(attempt(tick, "b"))
        h.state.forgetFinishedRuns(keepingPerDag: 0)
        let afterTick = h.state
        h.send(.scheduleTick(ScheduleTick(dagID: "d", logicalDate: t0)))
        #expect(h.last.isEmpty && h.state == afterTick)
        // Late results and timers for a forgotten run change nothing either.
        h.send(.taskSucceeded(attempt("r3", "b"), TaskSuccess()))
        h.send(.runCancelled("r3", reason: "late"))
        #expect(h.last.isEmpty && h.state == afterTick)
        #expect(h.state.indexProblems() == [])
    }

    @Test func dependsOnPastSeesAForgottenPreviousRun() {
        var h = EngineHarness([dag("d", maxActiveRuns: 3, tasks: [task("a", dependsOnPast: true), task("b", after: ["a"])])])
        let day = 86_400.0
        h.trigger("d", run: "r1", logical: t0)
        h.complete(attempt("r1", "a"))
        h.complete(attempt("r1", "b"))
        h.trigger("d", run: "r2", logical: t0.addingTimeInterval(day))
        h.fail(attempt("r2", "a"), retryable: false)
        h.state.forgetFinishedRuns(keepingPerDag: 0)
        #expect(h.state.runs.isEmpty)
        // r2's `a` failed: r3's `a` waits for it, though r2 is no longer held.
        h.trigger("d", run: "r3", logical: t0.addingTimeInterval(2 * day))
        #expect(h.task("r3", "a").state == .pending)
        #expect(h.task("r3", "a").waitingFor == "a in the previous run r2 (depends_on_past)")
        // A run between r1 and r2 has r1 (succeeded, forgotten) as its previous run: it goes.
        h.trigger("d", run: "r1b", logical: t0.addingTimeInterval(day / 2))
        #expect(h.dispatched.map(\.attempt) == [attempt("r1b", "a")])
        // A run before everything has no previous run.
        h.trigger("d", run: "r0", logical: t0.addingTimeInterval(-day))
        #expect(h.dispatched.map(\.attempt) == [attempt("r0", "a")])
        #expect(h.state.indexProblems() == [])
    }

    /// The coordinator's way (`Engine.forgetFinishedRuns`): only DAGs with depends_on_past keep a record
    /// of each finished run, so memory does not grow with every run of every other DAG; for those the
    /// engine no longer knows the id, and the coordinator asks its store before applying a request.
    @Test func theEngineKeepsRecordsOnlyForDagsWithDependsOnPast() {
        var h = EngineHarness([
            dag("plain", tasks: [task("a")]),
            dag("daily", maxActiveRuns: 3, tasks: [task("a", dependsOnPast: true)]),
        ])
        let day = 86_400.0
        for i in 0..<20 {
            h.trigger("plain", run: "p\(i)")
            h.complete(attempt("p\(i)", "a"))
        }
        h.trigger("daily", run: "d1", logical: t0)
        h.fail(attempt("d1", "a"), retryable: false)
        h.engine.forgetFinishedRuns(in: &h.state)
        #expect(h.engine.dagsWithDependsOnPast == ["daily"])
        #expect(h.state.runs.isEmpty)
        #expect(Set(h.state.forgotten.keys) == ["d1"], "no record of the 20 plain runs")
        #expect(!h.state.knows("p3") && h.state.knows("d1"))
        // depends_on_past still sees the forgotten d1.
        h.trigger("daily", run: "d2", logical: t0.addingTimeInterval(day))
        #expect(h.task("d2", "a").waitingFor == "a in the previous run d1 (depends_on_past)")
        #expect(h.state.indexProblems() == [])
    }

    /// A burst of queued runs (a backfill) grows the runs table; once they finished and left, its
    /// storage shrinks too instead of holding the burst's capacity for good.
    @Test func theRunsTableShrinksOnceABurstHasLeft() {
        var h = EngineHarness([dag("plain", maxActiveRuns: 4_000, tasks: [task("a")])])
        for i in 0..<3_000 { h.trigger("plain", run: "p\(i)") }
        let burst = h.state.runs.capacity
        for i in 0..<2_990 { h.complete(attempt("p\(i)", "a")) }
        h.engine.forgetFinishedRuns(in: &h.state)
        #expect(h.state.runs.count == 10)
        #expect(h.state.runs.capacity < burst / 8, "capacity \(h.state.runs.capacity) after a burst of \(burst)")
        h.complete(attempt("p2995", "a"))
        #expect(h.state.runs["p2995"]?.state == .succeeded)
        #expect(h.state.indexProblems() == [])
    }

    @Test func forgettingKeepsTheNewestPerDagAndSurvivesEncoding() throws {
        var h = EngineHarness([dag("d", maxActiveRuns: 1, tasks: [task("a")]), dag("e", tasks: [task("x")])])
        for i in 0..<6 {
            h.trigger("d", run: "d\(i)")
            h.complete(attempt("d\(i)", "a"))
            h.trigger("e", run: "e\(i)")
            h.complete(attempt("e\(i)", "x"))
        }
        h.trigger("d", run: "d6")
        #expect(h.state.finishedRunsHeld == 12)
        h.state.forgetFinishedRuns(keepingPerDag: 2)
        #expect(Set(h.state.runs.keys) == ["d4", "d5", "d6", "e4", "e5"])
        #expect(h.state.finishedRunsHeld == 4)
        let decoded = try JSONDecoder().decode(EngineState.self, from: JSONEncoder().encode(h.state))
        #expect(decoded == h.state)
        #expect(decoded.forgotten.count == 8)
        #expect(decoded.indexProblems() == [])
        // A state without forgotten runs encodes exactly the keys it always had.
        let fresh = EngineHarness([dag("d", tasks: [task("a")])])
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(fresh.state)) as? [String: Any]
        #expect(Set(json?.keys.map { $0 } ?? []) == ["runs", "pools", "pausedDags", "nextSequence", "activeRuns"])
    }
}

/// The indexed engine against the engine that walked every run: random histories over DAGs with
/// max_active_runs, shared pools, depends_on_past, retries, timeouts, cancellations, pauses,
/// duplicate and out-of-order requests, redeliveries — and, on the indexed side only, finished runs
/// forgotten and the state reloaded from its encoding at random. Every step must give the same
/// commands and the same runs, and the indexes must match a recomputation from scratch.
@Suite struct EngineDifferentialTests {
    let dags = [
        dag("a", maxActiveRuns: 2, tasks: [
            task("p", pool: "ml"), task("q", after: ["p"], retries: 1, delay: .seconds(30), timeout: .seconds(20)),
            task("r", after: ["p"], rule: .allDone), task("s", after: ["q", "r"], dependsOnPast: true),
        ]),
        dag("b", maxActiveRuns: 3, tasks: [
            task("x", pool: "ml", dependsOnPast: true), task("y", after: ["x"], rule: .oneFailed), task("z", after: ["x"], rule: .noneFailed),
        ]),
        dag("c", maxActiveRuns: 1, tasks: [task("k", pool: "gpu"), task("l", after: ["k"], retries: 2, delay: .seconds(5))], triggerOn: ["a"]),
        dag("d", maxActiveRuns: 4, tasks: [
            task("t0"), task("t1", after: ["t0"], pool: "gpu"), task("t2", after: ["t0"], rule: .oneSuccess),
            task("t3", after: ["t1", "t2"], dependsOnPast: true),
        ]),
        // `h` runs when `g` fails and is skipped when it succeeds; a skip lets the next run's `h` go
        // (depends_on_past), within the same settle pass when that run arrived later.
        dag("e", maxActiveRuns: 3, tasks: [task("g"), task("h", after: ["g"], rule: .oneFailed, dependsOnPast: true)]),
    ]
    let pools = ["ml": 2, "gpu": 1]

    @Test(arguments: 0..<24)
    func randomHistoriesMatchTheEngineThatWalkedEveryRun(seed: Int) throws {
        let config = LockstepConfig(pools: pools.mapValues { PoolSpec(slots: $0) })
        let engine = Engine(dags: dags, config: config)
        let reference = ReferenceEngine(dags: dags, config: config)
        var state = EngineState()
        var expected = ReferenceState()
        var rng = SplitMix64(seed: 0xD1FF_0000 + UInt64(seed))
        var now = t0
        var inFlight: [AttemptID] = []
        var timers: [TimerID] = []
        var requested: [RunRequest] = []
        var ids: [RunID] = []
        var history: [EngineEvent] = []
        let dagIDs = dags.map(\.id) + ["nope"]

        func pick<T>(_ list: [T]) -> T? { list.isEmpty ? nil : list[Int.random(in: 0..<list.count, using: &rng)] }
        /// Mostly one of the latest: results for long-gone attempts are stale, and some should be.
        func pickRecent<T>(_ list: [T]) -> T? {
            Int.random(in: 0..<5, using: &rng) == 0 ? pick(list) : pick(Array(list.suffix(8)))
        }

        for step in 0..<600 {
            now = now.addingTimeInterval(Double(Int.random(in: 0...40, using: &rng)))
            let roll = Int.random(in: 0..<100, using: &rng)
            var event: EngineEvent?
            switch roll {
            case 0..<14:
                let dagID = Int.random(in: 0..<20, using: &rng) == 0 ? "nope" : pick(Array(dagIDs.dropLast()))!
                let date = t0.addingTimeInterval(Double(Int.random(in: 0..<12, using: &rng)) * 86_400)
                if Int.random(in: 0..<4, using: &rng) == 0 {
                    event = .scheduleTick(ScheduleTick(dagID: dagID, logicalDate: date))
                } else {
                    let id = Int.random(in: 0..<5, using: &rng) == 0 ? (pick(ids) ?? "\(dagID)-0") : "\(dagID)-\(step)"
                    event = .runRequested(RunRequest(runID: id, dagID: dagID, logicalDate: date, trigger: .backfill))
                }
            case 14..<40: event = pickRecent(inFlight).map { .taskStarted($0, worker: "w") }
            case 40..<66:
                event = pickRecent(inFlight).map {
                    $0.taskID == "g" && Bool.random(using: &rng)
                        ? .taskFailed($0, TaskFailure(message: "g failed", retryable: false))
                        : .taskSucceeded($0, TaskSuccess(output: ["step": .int(Int64(step))]))
                }
            case 66..<70:
                event = pickRecent(inFlight).map {
                    .taskFailed($0, TaskFailure(message: "boom \(step)", retryable: Int.random(in: 0..<4, using: &rng) > 0))
                }
            case 70..<72: event = pickRecent(inFlight).map { .taskTimedOut($0) }
            case 72..<82: event = pick(timers).map { .timerFired($0) }
            case 82..<84: event = pick(ids).map { .runCancelled($0, reason: "step \(step)") }
            case 84..<88:
                let dagID = pick(Array(dagIDs.dropLast()))!
                event = state.pausedDags.contains(dagID) ? .dagUnpaused(dagID) : (Int.random(in: 0..<3, using: &rng) == 0 ? .dagPaused(dagID) : nil)
            case 88..<93: event = pick(history)
            case 93..<96:
                if !requested.isEmpty { event = .runRequested(requested.removeFirst()) }
            case 96..<98:
                state.forgetFinishedRuns(keepingPerDag: Int.random(in: 0...2, using: &rng))
            default:
                state = try JSONDecoder().decode(EngineState.self, from: JSONEncoder().encode(state))
            }
            guard let event else { continue }
            history.append(event)
            let commands = engine.apply(event, to: &state, now: now)
            let expectedCommands = reference.apply(event, to: &expected, now: now)
            #expect(commands == expectedCommands, "seed \(seed) step \(step): \(event)")
            let problems = differences(state, expected) + state.indexProblems()
            #expect(problems == [], "seed \(seed) step \(step): \(event)")
            if commands != expectedCommands || !problems.isEmpty { return }
            for command in commands {
                switch command {
                case .dispatch(let dispatch): inFlight.append(dispatch.attempt)
                case .startTimer(let timer, _): timers.append(timer)
                case .requestRun(let request): requested.append(request)
                case .publish(let event) where event.kind == .runQueued: ids.append(event.runID)
                default: break
                }
            }
            if inFlight.count > 40 { inFlight.removeFirst(inFlight.count - 40) }
            if timers.count > 40 { timers.removeFirst(timers.count - 40) }
        }
        #expect(expected.runs.values.contains { $0.state == .succeeded }, "the histories get somewhere")
    }

    /// A run's skip unblocks a later-arrived run's depends_on_past task within the same settle pass:
    /// the dispatch comes before the first run's finish, as when every run was looked at in order.
    @Test func aSkipLetsTheNextRunGoWithinTheSamePass() {
        let spec = dag("e", maxActiveRuns: 3, tasks: [task("g"), task("h", after: ["g"], rule: .oneFailed, dependsOnPast: true)])
        let engine = Engine(dags: [spec], config: .empty)
        let reference = ReferenceEngine(dags: [spec], config: .empty)
        var state = EngineState()
        var expected = ReferenceState()
        let events: [EngineEvent] = [
            .runRequested(RunRequest(runID: "r1", dagID: "e", logicalDate: t0)),
            .runRequested(RunRequest(runID: "r2", dagID: "e", logicalDate: t0.addingTimeInterval(86_400))),
            .taskStarted(attempt("r2", "g"), worker: "w"),
            .taskFailed(attempt("r2", "g"), TaskFailure(message: "no", retryable: false)),
            .taskStarted(attempt("r1", "g"), worker: "w"),
            .taskSucceeded(attempt("r1", "g"), TaskSuccess()),
        ]
        var last: [EngineCommand] = []
        for event in events {
            last = engine.apply(event, to: &state, now: t0)
            #expect(last == reference.apply(event, to: &expected, now: t0))
        }
        let order = last.compactMap { command -> String? in
            switch command {
            case .publish(let e): "\(e.kind.rawValue) \(e.runID)\(e.taskID.map { "/" + $0 } ?? "")"
            case .dispatch(let d): "dispatch \(d.attempt.task)"
            default: nil
            }
        }
        #expect(order == ["task.succeeded r1/g", "task.skipped r1/h", "dispatch r2/h", "task.scheduled r2/h", "run.succeeded r1"])
    }

    /// What differs between the indexed engine's state and the reference's: the indexed one may have
    /// forgotten finished runs, and must remember exactly those.
    func differences(_ state: EngineState, _ expected: ReferenceState) -> [String] {
        var problems: [String] = []
        if state.nextSequence != expected.nextSequence { problems.append("next sequence \(state.nextSequence) ≠ \(expected.nextSequence)") }
        if state.pausedDags != expected.pausedDags { problems.append("paused \(state.pausedDags) ≠ \(expected.pausedDags)") }
        let pools = state.pools.mapValues { [$0.holders.map(\.description), $0.waiting.map(\.description)] }
        let expectedPools = expected.pools.mapValues { [$0.holders.map(\.description), $0.waiting.map(\.description)] }
        if pools != expectedPools { problems.append("pools \(pools) ≠ \(expectedPools)") }
        for (id, run) in expected.runs {
            if let held = state.runs[id] {
                if held != run { problems.append("run \(id) differs: \(held) ≠ \(run)") }
            } else if !run.state.isTerminal || state.forgotten[id] != ForgottenRun(run) {
                problems.append("run \(id) missing (\(run.state))")
            }
        }
        for id in state.runs.keys where expected.runs[id] == nil { problems.append("run \(id) should not exist") }
        if Set(state.forgotten.keys).subtracting(expected.runs.keys).count > 0 { problems.append("forgot runs that never were") }
        if state.activeRuns != expected.activeRuns { problems.append("active \(state.activeRuns) ≠ \(expected.activeRuns)") }
        return problems
    }
}
