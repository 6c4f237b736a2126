import Foundation
import LockstepBus
import LockstepCore

/// Translates between the engine's types and the events on the topics (CloudEvents with JSON data
/// in snake_case, as documented in `topics/`).
public enum WireCodec {
    // MARK: Engine inputs

    /// The event's type and data for an engine input, as a producer or worker publishes it.
    public static func encode(_ event: EngineEvent) -> (type: String, data: JSONValue) {
        var o = WireObject()
        switch event {
        case .scheduleTick(let tick):
            o.set("dag_id", tick.dagID)
            o.set("logical_date", tick.logicalDate)
            return (EventType.scheduleTick, o.json)
        case .runRequested(let request):
            return (EventType.runRequested, encodeRunRequest(request))
        case .taskStarted(let attempt, let worker):
            attemptFields(&o, attempt)
            o.set("worker", worker)
            return (EventType.attemptStarted, o.json)
        case .taskSucceeded(let attempt, let success):
            attemptFields(&o, attempt)
            o["output"] = success.output
            o["warnings"] = .array(success.warnings.map(JSONValue.string))
            o.set("skipped", success.skipped)
            return (EventType.attemptSucceeded, o.json)
        case .taskFailed(let attempt, let failure):
            attemptFields(&o, attempt)
            o["error"] = encode(failure)
            return (EventType.attemptFailed, o.json)
        case .taskTimedOut(let attempt):
            attemptFields(&o, attempt)
            return (EventType.attemptTimedOut, o.json)
        case .timerFired(let timer):
            attemptFields(&o, timer.attempt)
            o.set("kind", timer.kind.rawValue)
            return (EventType.timerFired, o.json)
        case .runCancelled(let runID, let reason):
            o.set("run_id", runID)
            o.set("reason", reason)
            return (EventType.runCancelRequested, o.json)
        case .dagPaused(let dagID):
            o.set("dag_id", dagID)
            return (EventType.dagPaused, o.json)
        case .dagUnpaused(let dagID):
            o.set("dag_id", dagID)
            return (EventType.dagUnpaused, o.json)
        }
    }

    /// The engine input a consumed event stands for. Event types that are not engine inputs give nil;
    /// an engine input with bad data throws, naming the field.
    public static func decodeEngineEvent(_ event: CloudEvent) throws(WireError) -> EngineEvent? {
        let type = event.type
        switch type {
        case EventType.scheduleTick:
            let f = try WireFields(event.data, type: type)
            var tick = ScheduleTick(dagID: try f.string("dag_id"), logicalDate: try f.date("logical_date"))
            tick.trace = runTrace(of: event, runID: tick.runID)
            return .scheduleTick(tick)
        case EventType.runRequested:
            return .runRequested(try decodeRunRequest(event))
        case EventType.attemptStarted:
            let f = try WireFields(event.data, type: type)
            return .taskStarted(try attempt(f), worker: try f.optionalString("worker") ?? "unknown")
        case EventType.attemptSucceeded:
            let f = try WireFields(event.data, type: type)
            return .taskSucceeded(try attempt(f), TaskSuccess(
                output: f.json("output") ?? .emptyObject, warnings: try f.strings("warnings"), skipped: try f.optionalString("skipped")))
        case EventType.attemptFailed:
            let f = try WireFields(event.data, type: type)
            let e = try WireFields(f.json("error"), type: type + " error")
            return .taskFailed(try attempt(f), TaskFailure(
                message: try e.string("message"), retryable: try e.bool("retryable", default: true),
                category: try e.optionalString("category") ?? "error"))
        case EventType.attemptTimedOut:
            return .taskTimedOut(try attempt(try WireFields(event.data, type: type)))
        case EventType.timerFired:
            let f = try WireFields(event.data, type: type)
            guard let kind = TimerID.Kind(rawValue: try f.string("kind")) else { throw WireError(type, "`kind` must be retry or timeout") }
            return .timerFired(TimerID(attempt: try attempt(f), kind: kind))
        case EventType.runCancelRequested:
            let f = try WireFields(event.data, type: type)
            return .runCancelled(try f.string("run_id"), reason: try f.optionalString("reason") ?? "cancelled")
        case EventType.dagPaused:
            return .dagPaused(try WireFields(event.data, type: type).string("dag_id"))
        case EventType.dagUnpaused:
            return .dagUnpaused(try WireFields(event.data, type: type).string("dag_id"))
        default:
            return nil
        }
    }

    // MARK: Run requests

    public static func encodeRunRequest(_ request: RunRequest, idempotencyKey: String? = nil) -> JSONValue {
        var o = WireObject()
        o.set("dag_id", request.dagID)
        o.set("run_id", request.runID)
        o.set("logical_date", request.logicalDate)
        o["conf"] = request.conf
        o.set("idempotency_key", idempotencyKey)
        o["trigger"] = encode(request.trigger)
        return o.json
    }

    /// A producer's request. The run id is the one given, else derived from the idempotency key, else
    /// from the event id — so a redelivered or repeated request never starts a second run.
    public static func decodeRunRequest(_ event: CloudEvent) throws(WireError) -> RunRequest {
        let type = EventType.runRequested
        let f = try WireFields(event.data, type: type)
        let dagID = try f.string("dag_id")
        let runID: RunID
        if let given = try f.optionalString("run_id") {
            guard !given.isEmpty else { throw WireError(type, "`run_id` must not be empty (leave it out to get one)") }
            runID = given
        } else {
            runID = .requested(dagID: dagID, idempotencyKey: try f.optionalString("idempotency_key") ?? event.id)
        }
        var trigger = try decodeTrigger(f.json("trigger"))
        if let replayOf = event.replayof { trigger = .replay(of: replayOf) }
        let conf = f.json("conf") ?? .emptyObject
        guard case .object = conf else { throw WireError(type, "`conf` must be a JSON object") }
        return RunRequest(
            runID: runID, dagID: dagID, logicalDate: try f.optionalDate("logical_date") ?? event.time ?? Date(timeIntervalSince1970: 0),
            conf: conf, trigger: trigger, trace: runTrace(of: event, runID: runID))
    }

    static func encode(_ trigger: RunTrigger) -> JSONValue {
        var o = WireObject()
        o.set("type", trigger.label)
        switch trigger {
        case .replay(let of): o.set("replay_of", of)
        case .upstream(let dagID, let runID):
            o.set("upstream_dag_id", dagID)
            o.set("upstream_run_id", runID)
        default: break
        }
        return o.json
    }

    static func decodeTrigger(_ value: JSONValue?) throws(WireError) -> RunTrigger {
        guard let value else { return .manual }
        let f = try WireFields(value, type: EventType.runRequested + " trigger")
        switch try f.optionalString("type") ?? "manual" {
        case "manual": return .manual
        case "scheduled": return .schedule
        case "backfill": return .backfill
        case "replay": return .replay(of: try f.string("replay_of"))
        case "upstream": return .upstream(dagID: try f.string("upstream_dag_id"), runID: try f.string("upstream_run_id"))
        case let other: throw WireError(EventType.runRequested, "unknown trigger type `\(other)`")
        }
    }

    // MARK: Task dispatches

    public static func encode(_ d: TaskDispatch) -> JSONValue {
        var o = WireObject()
        attemptFields(&o, d.attempt)
        o.set("dag_id", d.dagID)
        o.set("logical_date", d.logicalDate)
        o.set("operator", d.operator)
        o["params"] = .object(d.params)
        o["conf"] = d.conf
        o["inputs"] = .object(d.inputs)
        o.set("timeout_ms", d.timeout?.milliseconds)
        o.set("max_tries", d.maxTries)
        o["is_last_try"] = .bool(d.isLastTry)
        o.set("pool", d.pool)
        return o.json
    }

    public static func decodeDispatch(_ event: CloudEvent) throws(WireError) -> TaskDispatch {
        let f = try WireFields(event.data, type: event.type)
        // A dispatch published before `is_last_try` existed gets the budget's own answer (nil).
        let isLastTry: Bool? = f.object["is_last_try"] == nil ? nil : try f.bool("is_last_try", default: false)
        return TaskDispatch(
            attempt: try attempt(f), dagID: try f.string("dag_id"), logicalDate: try f.date("logical_date"),
            operator: try f.string("operator"), params: try f.object("params"), conf: f.json("conf") ?? .emptyObject,
            inputs: try f.object("inputs"), timeout: try f.optionalInt("timeout_ms").map { .milliseconds($0) },
            maxTries: (try? f.int("max_tries")) ?? 1, pool: try f.optionalString("pool"), isLastTry: isLastTry)
    }

    // MARK: Lifecycle

    public static func encode(_ e: LifecycleEvent) -> (type: String, data: JSONValue) {
        var o = WireObject()
        o.set("run_id", e.runID)
        o.set("dag_id", e.dagID)
        o.set("logical_date", e.logicalDate)
        o.set("at", e.at)
        o["trigger"] = encode(e.trigger)
        o.set("task_id", e.taskID)
        o.set("try_number", e.tryNumber)
        o.set("output", e.output)
        if let error = e.error { o["error"] = encode(error) }
        if !e.warnings.isEmpty || e.kind == .runSucceeded { o["warnings"] = .array(e.warnings.map(JSONValue.string)) }
        o.set("duration_ms", e.durationMs)
        o.set("retry_at", e.retryAt)
        o.set("reason", e.reason)
        if e.kind == .runSucceeded { o.set("status", e.warnings.isEmpty ? "succeeded" : "succeeded_with_warnings") }
        return (EventType.lifecycle(e.kind), o.json)
    }

    static func encode(_ failure: TaskFailure) -> JSONValue {
        ["message": .string(failure.message), "retryable": .bool(failure.retryable), "category": .string(failure.category)]
    }

    // MARK: Helpers

    static func attemptFields(_ o: inout WireObject, _ a: AttemptID) {
        o.set("run_id", a.runID)
        o.set("task_id", a.taskID)
        o.set("try_number", a.tryNumber)
    }

    static func attempt(_ f: WireFields) throws(WireError) -> AttemptID {
        let tryNumber = try f.int("try_number")
        guard tryNumber >= 1 else { throw WireError(f.type, "`try_number` must be 1 or more") }
        return AttemptID(runID: try f.string("run_id"), taskID: try f.string("task_id"), tryNumber: tryNumber)
    }

    /// The key records about this engine input carry: the run id where there is one, else the DAG id.
    public static func key(for event: EngineEvent) -> String {
        switch event {
        case .scheduleTick(let t): t.dagID
        case .runRequested(let r): r.dagID
        case .taskStarted(let a, _), .taskSucceeded(let a, _), .taskFailed(let a, _), .taskTimedOut(let a): a.runID
        case .timerFired(let t): t.attempt.runID
        case .runCancelled(let id, _): id
        case .dagPaused(let d), .dagUnpaused(let d): d
        }
    }
}
