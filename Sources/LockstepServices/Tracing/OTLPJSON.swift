import Foundation
import LockstepCore

/// The OTLP/HTTP JSON encoding of spans (opentelemetry-proto's JSON mapping, as `POST /v1/traces`
/// takes it): ids as hex, times as decimal strings of Unix nanoseconds, enums as integers.
enum OTLPJSON {
    /// `SPAN_KIND_INTERNAL`: an attempt or a run is work inside Lockstep, not a call to or from it.
    static let internalKind: Int64 = 1
    static let statusOK: Int64 = 1
    static let statusError: Int64 = 2

    /// One export request: the spans under one resource (this process) and one scope (Lockstep).
    static func request(_ spans: [Span], instance: String) -> JSONValue {
        let resource: JSONValue = ["attributes": .array([
            attribute("service.name", .string("lockstep")), attribute("service.instance.id", .string(instance)),
        ])]
        let scope: JSONValue = ["name": .string("lockstep")]
        return ["resourceSpans": .array([[
            "resource": resource,
            "scopeSpans": .array([["scope": scope, "spans": .array(spans.map(span))]]),
        ]])]
    }

    static func span(_ s: Span) -> JSONValue {
        var o: [String: JSONValue] = [
            "traceId": .string(s.traceID), "spanId": .string(s.spanID), "name": .string(s.name),
            "kind": .int(internalKind), "startTimeUnixNano": .string(nanos(s.start)), "endTimeUnixNano": .string(nanos(s.end)),
            "attributes": .array(s.attributes.map { attribute($0.key, $0.value) }),
        ]
        if let parent = s.parentSpanID { o["parentSpanId"] = .string(parent) }
        switch s.status {
        case .ok: o["status"] = ["code": .int(statusOK)]
        case .error(let message): o["status"] = ["code": .int(statusError), "message": .string(message)]
        }
        return .object(o)
    }

    static func attribute(_ key: String, _ value: Span.Value) -> JSONValue {
        let any: JSONValue = switch value {
        case .string(let s): ["stringValue": .string(s)]
        case .int(let i): ["intValue": .string(String(i))]  // int64 is a string in OTLP JSON
        case .bool(let b): ["boolValue": .bool(b)]
        }
        return ["key": .string(key), "value": any]
    }

    /// Whole microseconds, as the clock gives them, times a thousand: no rounding through Double's ns.
    static func nanos(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        return String(micros) + "000"
    }
}
