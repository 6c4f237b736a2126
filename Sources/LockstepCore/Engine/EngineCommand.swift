import Foundation

/// What the engine asks the world to do after an event. The coordinator carries them out.
public enum EngineCommand: Sendable, Hashable, Codable {
    /// Run one attempt of a task on a worker.
    case dispatch(TaskDispatch)
    case startTimer(TimerID, at: Date)
    case cancelTimer(TimerID)
    /// Tell workers to stop an attempt whose result no longer counts (timed out, run cancelled).
    case abandon(AttemptID, reason: String)
    /// Announce a lifecycle change to subscribers.
    case publish(LifecycleEvent)
    /// Ask for another run (a DAG triggered by this one's success).
    case requestRun(RunRequest)
    /// A run request that cannot become a run; it belongs on the dead-letter topic.
    case reject(RunRequest, reason: String)
}

/// Everything a worker needs to run one attempt, so that it never has to call back.
public struct TaskDispatch: Sendable, Hashable, Codable {
    public var attempt: AttemptID
    public var dagID: String
    public var logicalDate: Date
    public var `operator`: String
    /// Unrendered: templates such as `{{ var.NAME }}` are resolved by the worker, so secrets never travel.
    public var params: [String: JSONValue]
    public var conf: JSONValue
    /// Outputs of every upstream (transitive) task that succeeded, by task id.
    public var inputs: [String: JSONValue]
    public var timeout: Duration?
    public var maxTries: Int
    public var pool: String?
    /// No try follows this one, whatever its error: its failure is the task's. The engine says so, so
    /// a worker that acts on a give-up (the notifier's dead letter) never re-derives the retry policy.
    public var isLastTry: Bool

    /// `isLastTry` defaults to what the retry budget says: no try after `maxTries`.
    public init(
        attempt: AttemptID, dagID: String, logicalDate: Date, operator: String, params: [String: JSONValue], conf: JSONValue,
        inputs: [String: JSONValue], timeout: Duration?, maxTries: Int, pool: String?, isLastTry: Bool? = nil
    ) {
        self.attempt = attempt
        self.dagID = dagID
        self.logicalDate = logicalDate
        self.operator = `operator`
        self.params = params
        self.conf = conf
        self.inputs = inputs
        self.timeout = timeout
        self.maxTries = maxTries
        self.pool = pool
        self.isLastTry = isLastTry ?? (attempt.tryNumber >= maxTries)
    }
}

/// A change in a run or task's life, for subscribers (`runs.events`).
public struct LifecycleEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case runQueued = "run.queued"
        case runStarted = "run.started"
        case runSucceeded = "run.succeeded"
        case runFailed = "run.failed"
        case runCancelled = "run.cancelled"
        case taskQueued = "task.queued"
        case taskScheduled = "task.scheduled"
        case taskStarted = "task.started"
        case taskSucceeded = "task.succeeded"
        case taskFailed = "task.failed"
        case taskUpForRetry = "task.up_for_retry"
        case taskSkipped = "task.skipped"
        case taskUpstreamFailed = "task.upstream_failed"
        case taskCancelled = "task.cancelled"
    }
    public var kind: Kind
    public var runID: RunID
    public var dagID: String
    public var logicalDate: Date
    public var at: Date
    public var trigger: RunTrigger
    public var taskID: String?
    public var tryNumber: Int?
    /// The task's output (task.succeeded) or every task's output by id (run.succeeded).
    public var output: JSONValue?
    public var error: TaskFailure?
    public var warnings: [String]
    /// From the attempt's start (task events) or the run's start (run events) to `at`.
    public var durationMs: Int64?
    public var retryAt: Date?
    public var reason: String?

    public init(
        kind: Kind, runID: RunID, dagID: String, logicalDate: Date, at: Date, trigger: RunTrigger, taskID: String? = nil,
        tryNumber: Int? = nil, output: JSONValue? = nil, error: TaskFailure? = nil, warnings: [String] = [],
        durationMs: Int64? = nil, retryAt: Date? = nil, reason: String? = nil
    ) {
        self.kind = kind
        self.runID = runID
        self.dagID = dagID
        self.logicalDate = logicalDate
        self.at = at
        self.trigger = trigger
        self.taskID = taskID
        self.tryNumber = tryNumber
        self.output = output
        self.error = error
        self.warnings = warnings
        self.durationMs = durationMs
        self.retryAt = retryAt
        self.reason = reason
    }
}
