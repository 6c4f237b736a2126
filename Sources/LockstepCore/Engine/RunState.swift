import Foundation

/// A run's place in its life.
public enum RunState: String, Sendable, Hashable, Codable {
    /// Waiting for the DAG's max-active-runs limit (or for the DAG to be unpaused).
    case queued
    case running
    case succeeded
    case failed
    case cancelled

    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// A task instance's place in its run.
public enum TaskState: String, Sendable, Hashable, Codable {
    /// Waiting for upstream tasks (or for the previous run, with depends_on_past).
    case pending
    /// Ready, waiting for a pool slot.
    case queued
    /// Dispatched to workers, not yet started.
    case scheduled
    case running
    /// Failed; the next try waits for its retry delay.
    case upForRetry = "up_for_retry"
    case succeeded
    case failed
    case upstreamFailed = "upstream_failed"
    case skipped
    case cancelled

    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .upstreamFailed, .skipped, .cancelled: true
        default: false
        }
    }

    /// Holding a pool slot (if the task has a pool) and an attempt that results may arrive for.
    public var isInFlight: Bool { self == .scheduled || self == .running }
}

/// How one try ended.
public enum AttemptOutcome: String, Sendable, Hashable, Codable {
    case succeeded, failed, timedOut = "timed_out", cancelled, skipped
}

/// One try of a task (Airflow's task try).
public struct TaskAttempt: Sendable, Hashable, Codable {
    public var tryNumber: Int
    public var scheduledAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var worker: String?
    public var outcome: AttemptOutcome?
    public var error: TaskFailure?

    public var duration: Duration? {
        guard let finishedAt else { return nil }
        return .milliseconds(Int64(((finishedAt.timeIntervalSince(startedAt ?? scheduledAt)) * 1000).rounded()))
    }
}

/// A task within a run: its state, tries and output.
public struct TaskInstance: Sendable, Hashable, Codable {
    public var taskID: String
    public var state: TaskState
    /// The current (or last) try, 1-based; 0 before the first dispatch.
    public var tryNumber: Int
    public var maxTries: Int
    public var attempts: [TaskAttempt]
    public var output: JSONValue?
    public var warnings: [String]
    public var retryAt: Date?
    /// Why a pending task is not moving, e.g. the previous run's task has not succeeded.
    public var waitingFor: String?

    init(taskID: String, maxTries: Int) {
        self.taskID = taskID
        state = .pending
        tryNumber = 0
        self.maxTries = maxTries
        attempts = []
        warnings = []
    }

    public var currentAttempt: TaskAttempt? { attempts.last }
    public var lastError: TaskFailure? { attempts.last(where: { $0.error != nil })?.error }
}

/// One run of a DAG.
public struct DagRun: Sendable, Hashable, Codable {
    public var id: RunID
    public var dagID: String
    public var logicalDate: Date
    public var conf: JSONValue
    public var trigger: RunTrigger
    public var state: RunState
    /// Arrival order among all runs; max-active-runs starts queued runs in this order.
    public var sequence: Int
    public var requestedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var tasks: [String: TaskInstance]
    /// The run's failure cause: the first task that failed, with its error.
    public var failure: String?
    /// The W3C trace the run's events, commands and outgoing calls carry (from its request).
    public var trace: TraceContext?

    public var warnings: [String] { tasks.keys.sorted().flatMap { tasks[$0]!.warnings } }

    /// `succeeded with warnings` when a task succeeded but reported something wrong.
    public var statusText: String {
        state == .succeeded && !warnings.isEmpty ? "succeeded with warnings" : state.rawValue
    }
}

