import Foundation

/// Everything that can happen to runs; the engine's only input besides the clock value.
public enum EngineEvent: Sendable, Hashable, Codable {
    case runRequested(RunRequest)
    case scheduleTick(ScheduleTick)
    case taskStarted(AttemptID, worker: String)
    case taskSucceeded(AttemptID, TaskSuccess)
    case taskFailed(AttemptID, TaskFailure)
    /// A worker gave up on an attempt because it ran past its timeout.
    case taskTimedOut(AttemptID)
    case timerFired(TimerID)
    case runCancelled(RunID, reason: String)
    case dagPaused(String)
    case dagUnpaused(String)

    /// The run a request or a schedule tick asks for; nil for every other event.
    public var requestedRunID: RunID? {
        switch self {
        case .runRequested(let request): request.runID
        case .scheduleTick(let tick): tick.runID
        default: nil
        }
    }
}

/// A request to start a run, from a producer, the CLI, a replay, a backfill or an upstream DAG.
public struct RunRequest: Sendable, Hashable, Codable {
    public var runID: RunID
    public var dagID: String
    public var logicalDate: Date
    public var conf: JSONValue
    public var trigger: RunTrigger
    /// The trace the run joins: the producer's, or one the shell started for it.
    public var trace: TraceContext?
    public init(
        runID: RunID, dagID: String, logicalDate: Date, conf: JSONValue = .emptyObject, trigger: RunTrigger = .manual,
        trace: TraceContext? = nil
    ) {
        self.runID = runID
        self.dagID = dagID
        self.logicalDate = logicalDate
        self.conf = conf
        self.trigger = trigger
        self.trace = trace
    }
}

/// Why a run exists.
public enum RunTrigger: Sendable, Hashable, Codable {
    case schedule
    case manual
    case backfill
    /// A rerun of an earlier event (its id), published by `lockstep replay`.
    case replay(of: String)
    /// Started because another DAG's run succeeded.
    case upstream(dagID: String, runID: RunID)

    public var label: String {
        switch self {
        case .schedule: "scheduled"
        case .manual: "manual"
        case .backfill: "backfill"
        case .replay: "replay"
        case .upstream: "upstream"
        }
    }
}

/// A cron firing of a DAG.
public struct ScheduleTick: Sendable, Hashable, Codable {
    public var dagID: String
    public var logicalDate: Date
    /// The trace the scheduled run gets (the shell's, from the tick event).
    public var trace: TraceContext?
    public init(dagID: String, logicalDate: Date, trace: TraceContext? = nil) {
        self.dagID = dagID
        self.logicalDate = logicalDate
        self.trace = trace
    }
    public var runID: RunID { .scheduled(dagID: dagID, logicalDate: logicalDate) }
}

public struct TaskSuccess: Sendable, Hashable, Codable {
    public var output: JSONValue
    /// Things that went wrong without failing the task (e.g. a sync skipped because FastAPI was down).
    public var warnings: [String]
    /// Set when the attempt asked for its task to be skipped (a command's skip exit code, Airflow's
    /// AirflowSkipException): the task ends `skipped`, not succeeded, and is not retried.
    public var skipped: String?
    public init(output: JSONValue = .emptyObject, warnings: [String] = [], skipped: String? = nil) {
        self.output = output
        self.warnings = warnings
        self.skipped = skipped
    }
}

public struct TaskFailure: Sendable, Hashable, Codable {
    public var message: String
    /// Whether another try can help (a refused connection can; a missing table cannot).
    public var retryable: Bool
    /// A short machine-readable cause, e.g. `timeout`, `unavailable`, `http_status`, `sql`.
    public var category: String
    public init(message: String, retryable: Bool = true, category: String = "error") {
        self.message = message
        self.retryable = retryable
        self.category = category
    }
}
