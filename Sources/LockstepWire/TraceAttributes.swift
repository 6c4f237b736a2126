import LockstepBus
import LockstepCore

/// The CloudEvents distributed-tracing extension (`traceparent`, `tracestate`) read into and written
/// from a run's `TraceContext`.
extension CloudEvent {
    /// The vendor trace state that travels beside `traceparent`.
    public var tracestate: String? {
        get { extensions["tracestate"] }
        set { extensions["tracestate"] = newValue }
    }

    /// The event's trace context, or nil when it has none or a malformed one (W3C: ignore it).
    public var traceContext: TraceContext? { TraceContext.parse(traceparent: traceparent, tracestate: tracestate) }

    /// Marks the event as work of span `spanID` in `trace`; no trace leaves the event as it is.
    public mutating func setTrace(_ trace: TraceContext?, spanID: String) {
        guard let trace else { return }
        traceparent = trace.traceparent(spanID: spanID)
        tracestate = trace.tracestate
    }

    /// The same event in span `spanID` of `trace`.
    public func traced(_ trace: TraceContext?, spanID: String) -> CloudEvent {
        var copy = self
        copy.setTrace(trace, spanID: spanID)
        return copy
    }
}

extension WireCodec {
    /// The trace a run-creating event (a run request, a schedule tick) hands the run: the producer's
    /// when its `traceparent` is valid, else a new one derived from the event's source and id. A
    /// malformed `traceparent` is ignored, as W3C Trace Context says, never a reason to refuse the event.
    public static func runTrace(of event: CloudEvent, runID: RunID) -> TraceContext {
        guard var trace = event.traceContext else {
            return TraceContext(traceID: TraceContext.derivedTraceID(from: "\(event.source)\n\(event.id)"))
        }
        // A request published in the run's own span (a trigger that started the trace) has no parent.
        if trace.parentSpanID == TraceContext.runSpanID(runID) { trace.parentSpanID = nil }
        return trace
    }
}

extension TraceContext {
    /// A new random trace id, for a run the shell starts a trace for (the engine never calls this).
    public static func randomTraceID() -> String {
        var generator = SystemRandomNumberGenerator()
        return hex64(UInt64.random(in: 1...UInt64.max, using: &generator)) + hex64(generator.next())
    }
}
