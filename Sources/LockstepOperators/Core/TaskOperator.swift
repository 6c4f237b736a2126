import Foundation
import LockstepCore
import Logging

/// A task's real work: given what the run knows, produce an output or a typed error.
///
/// Operators never talk to the bus; whatever should be published is returned as `events`.
/// They must honour `context.deadline` themselves: the worker cannot preempt blocking I/O.
public protocol TaskOperator: Sendable {
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult
}

/// Everything one attempt of a task may read: identity, parameters, upstream outputs and resolved config.
public struct OperatorContext: Sendable {
    public var dagID: String
    public var runID: String
    public var taskID: String
    /// 1-based attempt number; idempotency keys must not include it.
    public var tryNumber: Int
    public var logicalDate: Date
    /// The task's params as declared: string values are templates rendered by the operator layer.
    public var params: [String: JSONValue]
    public var conf: JSONValue
    /// Outputs of every ancestor task, keyed by task id.
    public var upstream: [String: JSONValue]
    public var variables: [String: String]
    /// Connection id → URI; URIs may hold passwords, so never log or echo them (see `Redacted.uri`).
    public var connections: [String: String]
    public var deadline: ContinuousClock.Instant
    public var dataDirectory: URL
    public var reportsDirectory: URL
    /// Wall-clock time for timestamps in outputs; injected so tests and replays are deterministic.
    public var now: Date
    public var logger: Logger
    /// This attempt's own log (`lockstep logs`): the operator's lines and a program's stdout/stderr.
    /// Secrets of `connections` and `variables` are masked in it; without a sink given it discards.
    public var log: TaskLog
    /// Every connection URI and password and every secret-named variable's value, for masking what the
    /// operator reports outside the log (error messages, outputs of programs it ran).
    public var secrets: SecretMask
    /// The W3C trace context of this attempt (`00-<run's trace id>-<attempt's span id>-<flags>`), for
    /// the operator's outgoing calls; nil when the command carried none.
    public var traceparent: String?
    public var tracestate: String?

    public init(
        dagID: String, runID: String, taskID: String, tryNumber: Int = 1, logicalDate: Date,
        params: [String: JSONValue] = [:], conf: JSONValue = .emptyObject, upstream: [String: JSONValue] = [:],
        variables: [String: String] = [:], connections: [String: String] = [:],
        deadline: ContinuousClock.Instant, dataDirectory: URL, reportsDirectory: URL, now: Date = Date(),
        logger: Logger = Logger(label: "lockstep.operators"), log: TaskLog? = nil
    ) {
        self.dagID = dagID
        self.runID = runID
        self.taskID = taskID
        self.tryNumber = tryNumber
        self.logicalDate = logicalDate
        self.params = params
        self.conf = conf
        self.upstream = upstream
        self.variables = variables
        self.connections = connections
        self.deadline = deadline
        self.dataDirectory = dataDirectory
        self.reportsDirectory = reportsDirectory
        self.now = now
        self.logger = logger
        let secrets = SecretMask(connections: connections, variables: variables)
        self.secrets = secrets
        let log = log ?? .discarding(AttemptID(runID: runID, taskID: taskID, tryNumber: tryNumber))
        log.protect(secrets)
        self.log = log
    }

    /// The headers that carry this attempt's trace on an outgoing HTTP call (W3C Trace Context).
    public var traceHeaders: [String: String] {
        var headers: [String: String] = [:]
        if let traceparent {
            headers["traceparent"] = traceparent
            if let tracestate { headers["tracestate"] = tracestate }
        }
        return headers
    }

    /// Time left before the deadline, capped at `cap`; a timeout error once nothing is left.
    public func budget(cap: Duration? = nil) throws(OperatorError) -> Duration {
        let left = deadline - ContinuousClock.now
        guard left > .zero else {
            throw OperatorError(.timeout, "task \(dagID).\(taskID) reached its deadline before finishing", retryable: true)
        }
        if let cap, cap < left { return cap }
        return left
    }

    /// The logger with this attempt's identity attached; its lines of level info and above also go to
    /// the attempt's log (`log`), masked.
    public var taskLogger: Logger {
        var out = logger
        if log.isRecording {
            let (base, taskLog) = (logger.handler, log)
            out = Logger(label: logger.label) { _ in MultiplexLogHandler([base, TaskLogHandler(log: taskLog)]) }
        }
        out[metadataKey: "dag"] = .string(dagID)
        out[metadataKey: "run"] = .string(runID)
        out[metadataKey: "task"] = .string(taskID)
        out[metadataKey: "try"] = .stringConvertible(tryNumber)
        return out
    }
}

/// What an attempt that did not fail produced.
public struct OperatorResult: Sendable, Hashable {
    /// How the attempt ended: it did its work, or it decided there was nothing to do.
    public enum Disposition: Sendable, Hashable {
        case succeeded
        /// The task should end `skipped` (Airflow's AirflowSkipException), not succeeded and not retried:
        /// downstream tasks then follow their trigger rules for a skipped upstream.
        case skipped(reason: String)
    }

    /// A JSON object, handed to downstream tasks as their upstream output (Airflow's XCom).
    public var output: JSONValue
    /// Non-fatal problems: the run shows "succeeded with warnings".
    public var warnings: [String]
    public var events: [EmittedEvent]
    public var disposition: Disposition

    public init(output: JSONValue = .emptyObject, warnings: [String] = [], events: [EmittedEvent] = []) {
        self.output = output
        self.warnings = warnings
        self.events = events
        disposition = .succeeded
    }

    /// An attempt that asks for its task to be skipped, with why (and what it wrote, if anything).
    public static func skipped(_ reason: String, output: JSONValue = .emptyObject, warnings: [String] = []) -> OperatorResult {
        var result = OperatorResult(output: output, warnings: warnings)
        result.disposition = .skipped(reason: reason)
        return result
    }

    public var isSkipped: Bool { if case .skipped = disposition { return true }; return false }
    public var skipReason: String? { if case .skipped(let reason) = disposition { return reason }; return nil }
}

/// An event the worker publishes on the operator's behalf once the attempt's result is recorded.
/// Operators say what happened; the worker knows the topics and the CloudEvent types (LockstepWire).
public struct EmittedEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// A service's health (`lockstep.health.result` on the health topic).
        case healthResult
        /// A model was trained (`lockstep.model.trained` on the models topic).
        case modelTrained
    }

    public var kind: Kind
    public var data: JSONValue
    /// CloudEvents subject, e.g. the service name or model version.
    public var subject: String?

    public init(_ kind: Kind, data: JSONValue, subject: String? = nil) {
        self.kind = kind
        self.data = data
        self.subject = subject
    }
}
