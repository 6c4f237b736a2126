import Foundation
import LockstepCore

/// Which span of a run's trace a lifecycle event belongs to, and the run's own span once it ends.
enum RunSpans {
    /// A task event of one try is in that attempt's span; run events and task events of no try
    /// (queued, skipped, upstream failed) are in the run's span.
    static func spanID(of event: LifecycleEvent) -> String {
        if let taskID = event.taskID, let tryNumber = event.tryNumber, tryNumber > 0 {
            return TraceContext.spanID(of: AttemptID(runID: event.runID, taskID: taskID, tryNumber: tryNumber))
        }
        return TraceContext.runSpanID(event.runID)
    }

    /// The run's span when `event` ends the run: from its start (or its request, if it never started)
    /// to the end, a child of the producer's span when the run continued a trace.
    static func span(_ event: LifecycleEvent, trace: TraceContext?) -> Span? {
        guard let trace, [.runSucceeded, .runFailed, .runCancelled].contains(event.kind) else { return nil }
        let start = event.at.addingTimeInterval(-Double(event.durationMs ?? 0) / 1000)
        let outcome = String(event.kind.rawValue.dropFirst("run.".count))
        return Span(
            traceID: trace.traceID, spanID: TraceContext.runSpanID(event.runID), parentSpanID: trace.parentSpanID,
            name: event.dagID, start: start, end: event.at,
            attributes: [
                ("lockstep.dag", .string(event.dagID)), ("lockstep.run", .string(event.runID)),
                ("lockstep.trigger", .string(event.trigger.label)), ("lockstep.outcome", .string(outcome)),
            ],
            status: event.kind == .runSucceeded ? .ok : .error(event.reason ?? outcome))
    }
}
