import Foundation

/// Identifies a run; scheduled runs use `dag@logical-date` so a repeated tick maps to the same run.
public typealias RunID = String

/// One task within one run.
public struct TaskKey: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var runID: RunID
    public var taskID: String
    public init(runID: RunID, taskID: String) {
        self.runID = runID
        self.taskID = taskID
    }
    public static func < (a: TaskKey, b: TaskKey) -> Bool { (a.runID, a.taskID) < (b.runID, b.taskID) }
    public var description: String { "\(runID)/\(taskID)" }
}

/// One try of one task within one run: the identity every worker result and timer refers to, so a
/// duplicated or late event for an earlier try can be recognised and ignored.
public struct AttemptID: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var runID: RunID
    public var taskID: String
    /// 1-based.
    public var tryNumber: Int
    public init(runID: RunID, taskID: String, tryNumber: Int) {
        self.runID = runID
        self.taskID = taskID
        self.tryNumber = tryNumber
    }
    public var task: TaskKey { TaskKey(runID: runID, taskID: taskID) }
    public static func < (a: AttemptID, b: AttemptID) -> Bool {
        (a.runID, a.taskID, a.tryNumber) < (b.runID, b.taskID, b.tryNumber)
    }
    public var description: String { "\(runID)/\(taskID)#\(tryNumber)" }
}

/// A durable timer the coordinator keeps for the engine: a retry delay or an attempt's timeout.
public struct TimerID: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable { case retry, timeout }
    public var attempt: AttemptID
    public var kind: Kind
    public init(attempt: AttemptID, kind: Kind) {
        self.attempt = attempt
        self.kind = kind
    }
    public static func < (a: TimerID, b: TimerID) -> Bool { (a.attempt, a.kind.rawValue) < (b.attempt, b.kind.rawValue) }
    public var description: String { "\(attempt)/\(kind.rawValue)" }
}

extension RunID {
    /// The run a schedule tick starts: deterministic, so two schedulers or a restart never start it twice.
    public static func scheduled(dagID: String, logicalDate: Date) -> RunID {
        "\(dagID)@\(ISO8601.format(logicalDate))"
    }

    /// The run a request starts: `<dag>~<key>`, where the key is the producer's idempotency key or,
    /// without one, the request event's id. The same key twice names the same run, so it starts once.
    public static func requested(dagID: String, idempotencyKey: String) -> RunID {
        "\(dagID)~\(idempotencyKey)"
    }

    /// The rerun of `original` made by one `lockstep replay` batch: a new run, named after what it reruns.
    public static func replay(of original: RunID, batch: String) -> RunID {
        "\(original)~replay-\(batch)"
    }
}
