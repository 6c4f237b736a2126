import Foundation

/// What replaying a log of engine inputs leaves behind.
public struct ReplayOutcome: Sendable {
    /// The state at the end, without the finished runs it handed over.
    public var state: EngineState
    /// Every run that finished, in the order it left the state.
    public var finished: [DagRun]
    /// The timers armed at the end.
    public var timers: [TimerID: Date]
    /// The inputs read, repeated requests left out included.
    public var events: Int

    /// Every run, finished or not.
    public var allRuns: [DagRun] { finished + state.runs.values }
}

extension Engine {
    /// Applies `inputs` in order as the coordinator applies them, without holding every run that
    /// ever finished: once `forgetAfter` finished runs are held they are handed over and forgotten,
    /// as the coordinator forgets them once stored, and a repeated request for a handed-over run is
    /// left out, as the coordinator leaves out a request for a run in its store. A rebuild of a year of
    /// runs then replays against tables the size of the runs in flight, not of the history (with
    /// 91,136 finished runs held, a step cost twice as much).
    ///
    /// With `handingOver`, the finished runs go to it in batches as they leave (up to `forgetAfter`
    /// at a time, the last when the inputs end) instead of into the outcome, whose `finished` is then
    /// empty: a caller writing them to a store does so while the replay goes on.
    public func replay(
        _ inputs: some Sequence<(EngineEvent, Date)>, forgetAfter: Int = 1024, handingOver: (([DagRun]) -> Void)? = nil
    ) -> ReplayOutcome {
        var replay = EngineReplay(engine: self, forgetAfter: forgetAfter, handingOver: handingOver)
        replay.apply(inputs)
        return replay.finish()
    }
}

/// `Engine.replay` a part at a time: a rebuild applies each batch of inputs as it is read, while
/// the next is read and decoded, instead of after the whole log.
public struct EngineReplay {
    let engine: Engine
    let forgetAfter: Int
    let handingOver: (([DagRun]) -> Void)?
    private var state = EngineState()
    private var finished: [DagRun] = []
    private var handedOver: Set<RunID> = []
    private var timers: [TimerID: Date] = [:]
    private var events = 0

    public init(engine: Engine, forgetAfter: Int = 1024, handingOver: (([DagRun]) -> Void)? = nil) {
        self.engine = engine
        self.forgetAfter = max(1, forgetAfter)
        self.handingOver = handingOver
    }

    /// Applies the next inputs, in order.
    public mutating func apply(_ inputs: some Sequence<(EngineEvent, Date)>) {
        // Worked on as plain locals, moved out of `self` and back: the closure handed to
        // `forgetFinishedRuns` writes two of them while `state` is passed inout, which the compiler
        // can prove disjoint only for locals. (A first version kept them in a struct that a nested
        // function captured: a box checked for exclusive access at run time, and that check stopped
        // a debug build inside `apply`.)
        var state = EngineState()
        var finished: [DagRun] = []
        var handedOver: Set<RunID> = []
        var timers: [TimerID: Date] = [:]
        swap(&state, &self.state)
        swap(&finished, &self.finished)
        swap(&handedOver, &self.handedOver)
        swap(&timers, &self.timers)
        defer {
            swap(&state, &self.state)
            swap(&finished, &self.finished)
            swap(&handedOver, &self.handedOver)
            swap(&timers, &self.timers)
        }
        for (event, time) in inputs {
            events += 1
            if let id = event.requestedRunID, handedOver.contains(id), !state.knows(id) { continue }
            if case .timerFired(let timer) = event { timers[timer] = nil }
            for command in engine.apply(event, to: &state, now: time) {
                switch command {
                case .startTimer(let timer, let at): timers[timer] = at
                case .cancelTimer(let timer): timers[timer] = nil
                default: break
                }
            }
            if state.finishedRunsHeld >= forgetAfter {
                engine.forgetFinishedRuns(in: &state) { handedOver.insert($0.id); finished.append($0) }
                if let handingOver, !finished.isEmpty {
                    handingOver(finished)
                    finished.removeAll(keepingCapacity: true)
                }
            }
        }
    }

    /// What the inputs applied so far lead to; the runs that finished are handed over (or put in
    /// the outcome) first.
    public consuming func finish() -> ReplayOutcome {
        var state = EngineState()
        var finished: [DagRun] = []
        swap(&state, &self.state)
        swap(&finished, &self.finished)
        engine.forgetFinishedRuns(in: &state) { finished.append($0) }
        if let handingOver, !finished.isEmpty {
            handingOver(finished)
            finished = []
        }
        return ReplayOutcome(state: state, finished: finished, timers: timers, events: events)
    }
}
