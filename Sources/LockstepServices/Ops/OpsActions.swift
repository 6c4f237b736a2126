import Foundation
import LockstepBus
import LockstepCore
import LockstepWire

/// What operators do to a running deployment. Each action is an event on the ops topic (who, what,
/// when): the coordinator acts on pause, unpause and cancel; the rest are the audit trail of actions
/// whose effect is other events (replayed requests, backfilled runs, redriven dead letters).
public struct OpsActions: Sendable {
    public let runtime: Runtime
    public let actor: String

    public init(runtime: Runtime, actor: String = OpsActions.defaultActor) {
        self.runtime = runtime
        self.actor = actor
    }

    public static var defaultActor: String {
        let env = ProcessInfo.processInfo.environment
        return env["LOCKSTEP_ACTOR"] ?? env["USER"] ?? "unknown"
    }

    public func pause(_ dagID: String) async throws { try await engineAction(.dagPaused(dagID)) }
    public func unpause(_ dagID: String) async throws { try await engineAction(.dagUnpaused(dagID)) }
    public func cancel(_ runID: RunID, reason: String) async throws { try await engineAction(.runCancelled(runID, reason: reason)) }

    private func engineAction(_ event: EngineEvent) async throws {
        var (type, data) = WireCodec.encode(event)
        data = annotate(data)
        try await runtime.publish(runtime.event(component: "ops", type: type, data: data), to: runtime.topics.ops, key: WireCodec.key(for: event))
    }

    /// Records an action whose effect is other events (`lockstep.ops.<action>`).
    public func audit(_ action: String, target: String, details: JSONValue = .emptyObject) async throws {
        var data = details.objectValue ?? [:]
        data["target"] = .string(target)
        let event = runtime.event(component: "ops", type: "lockstep.ops.\(action)", subject: target, data: annotate(.object(data)))
        try await runtime.publish(event, to: runtime.topics.ops, key: target)
    }

    private func annotate(_ data: JSONValue) -> JSONValue {
        var object = data.objectValue ?? [:]
        object["actor"] = .string(actor)
        object["at"] = .string(ISO8601.format(runtime.clock.now))
        return .object(object)
    }

    /// Triggers a run as a user asked for it (CLI, API): the request is checked as the coordinator will
    /// check it — a known DAG, not paused, a conf that matches its params — and refused here, before
    /// anything is published. The run id follows the one rule (`RunID.requested`), so the same key
    /// twice names one run. `trace` is the caller's own trace to continue (an API client's
    /// `traceparent`); without one the run starts a new trace.
    public func trigger(
        _ dagID: String, conf: JSONValue = .emptyObject, idempotencyKey: String? = nil, logicalDate: Date? = nil,
        trace: TraceContext? = nil
    ) async throws -> RunRequest {
        let key = idempotencyKey ?? UUID().uuidString
        let request = RunRequest(
            runID: .requested(dagID: dagID, idempotencyKey: key), dagID: dagID, logicalDate: logicalDate ?? runtime.clock.now,
            conf: conf, trigger: .manual, trace: trace ?? TraceContext(traceID: TraceContext.randomTraceID()))
        var paused = try await runtime.store.pausedDags()
        for dag in runtime.dags where dag.paused { paused.insert(dag.id) }
        if case .failure(let refusal) = RunAdmission.check(request, dags: runtime.dagsByID, paused: paused) { throw refusal }
        try await runtime.createTopics()
        try await requestRun(request, idempotencyKey: idempotencyKey)
        return request
    }

    /// Publishes a run request (trigger, backfill, replay, redrive all go through here). A request
    /// without a trace starts a new one, with a random id: the request event is then in the run's
    /// own span, which the coordinator takes as "no parent".
    public func requestRun(_ request: RunRequest, idempotencyKey: String? = nil, replayOf: String? = nil) async throws {
        var data = WireCodec.encodeRunRequest(request, idempotencyKey: idempotencyKey).objectValue ?? [:]
        data["requested_by"] = .string(actor)
        var event = runtime.event(component: "ops", type: EventType.runRequested, subject: request.dagID, data: .object(data))
        if let replayOf { event.extensions["replayof"] = replayOf }
        let trace = request.trace ?? TraceContext(traceID: TraceContext.randomTraceID())
        event.setTrace(trace, spanID: trace.parentSpanID ?? TraceContext.runSpanID(request.runID))
        try await runtime.publish(event, to: runtime.topics.runRequests, key: request.dagID)
    }
}
