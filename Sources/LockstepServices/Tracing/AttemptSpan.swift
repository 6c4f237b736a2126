import Foundation
import LockstepCore

/// The span of one attempt, as the worker that ran it saw it: from its claim to its result.
enum AttemptSpan {
    /// Named by the task; a child of the run's span, in the run's trace. No trace, no span.
    static func span(of dispatch: TaskDispatch, trace: TraceContext?, result: EngineEvent, worker: String, start: Date, end: Date) -> [Span] {
        guard let trace else { return [] }
        let attempt = dispatch.attempt
        let (outcome, status): (String, Span.Status) = switch result {
        case .taskSucceeded(_, let success): (success.skipped == nil ? "succeeded" : "skipped", .ok)
        case .taskFailed(_, let failure): ("failed", .error(failure.message))
        case .taskTimedOut: ("timed_out", .error("attempt ran past its timeout"))
        default: ("unknown", .ok)
        }
        return [Span(
            traceID: trace.traceID, spanID: TraceContext.spanID(of: attempt), parentSpanID: TraceContext.runSpanID(attempt.runID),
            name: attempt.taskID, start: start, end: end,
            attributes: [
                ("lockstep.dag", .string(dispatch.dagID)), ("lockstep.run", .string(attempt.runID)),
                ("lockstep.task", .string(attempt.taskID)), ("lockstep.try", .int(Int64(attempt.tryNumber))),
                ("lockstep.outcome", .string(outcome)), ("lockstep.worker", .string(worker)),
                ("lockstep.operator", .string(dispatch.operator)),
            ],
            status: status)]
    }
}
