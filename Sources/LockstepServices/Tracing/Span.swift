import Foundation
import LockstepCore

/// One finished span of a run's trace: an attempt, or the run as a whole.
public struct Span: Sendable, Hashable {
    public enum Status: Sendable, Hashable {
        case ok
        case error(String)
    }

    /// An attribute value: OTLP's string, integer or boolean.
    public enum Value: Sendable, Hashable {
        case string(String)
        case int(Int64)
        case bool(Bool)
    }

    public var traceID: String
    public var spanID: String
    public var parentSpanID: String?
    public var name: String
    public var start: Date
    public var end: Date
    /// In the order given, so the exported JSON is the same for the same span.
    public var attributes: [(key: String, value: Value)]
    public var status: Status

    public init(
        traceID: String, spanID: String, parentSpanID: String?, name: String, start: Date, end: Date,
        attributes: [(key: String, value: Value)], status: Status
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.name = name
        self.start = start
        self.end = max(start, end)
        self.attributes = attributes
        self.status = status
    }

    public static func == (a: Span, b: Span) -> Bool {
        a.traceID == b.traceID && a.spanID == b.spanID && a.parentSpanID == b.parentSpanID && a.name == b.name
            && a.start == b.start && a.end == b.end && a.status == b.status
            && a.attributes.map(\.key) == b.attributes.map(\.key) && a.attributes.map(\.value) == b.attributes.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(traceID)
        hasher.combine(spanID)
    }
}
