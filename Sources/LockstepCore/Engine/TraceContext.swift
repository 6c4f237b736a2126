import Foundation

/// A run's W3C trace context (https://www.w3.org/TR/trace-context/): the trace every event, command and
/// outgoing call of the run belongs to. The shell hands it in with the run request (a producer's own
/// trace, or a new one); the engine only copies it, so it stays deterministic.
public struct TraceContext: Sendable, Hashable, Codable {
    /// 32 lower-case hex digits, not all zero.
    public var traceID: String
    /// The producer's span the run continues (16 hex digits); nil when the run started the trace.
    public var parentSpanID: String?
    /// The trace flags as 2 hex digits (`01`: sampled).
    public var flags: String
    /// The producer's vendor state (`tracestate`), passed on unchanged.
    public var tracestate: String?

    public init(traceID: String, parentSpanID: String? = nil, flags: String = "01", tracestate: String? = nil) {
        self.traceID = traceID
        self.parentSpanID = parentSpanID
        self.flags = flags
        self.tracestate = tracestate
    }

    /// The `traceparent` of work done in span `spanID` of this trace.
    public func traceparent(spanID: String) -> String { "00-\(traceID)-\(spanID)-\(flags)" }

    /// Reads a `traceparent` (and `tracestate`) as W3C Trace Context level 1 says a receiver must:
    /// nil for anything malformed (wrong lengths, upper-case or non-hex digits, version `ff`, an
    /// all-zero trace or parent id), in which case the receiver starts a new trace. A later version
    /// is read by its first four fields, as the spec asks.
    public static func parse(traceparent: String?, tracestate: String? = nil) -> TraceContext? {
        guard let text = traceparent?.trimmingCharacters(in: .whitespaces) else { return nil }
        let b = Array(text.utf8)
        guard b.count >= 55, b[2] == dash, b[35] == dash, b[52] == dash else { return nil }
        let version = String(decoding: b[0..<2], as: UTF8.self)
        guard isHex(b[0..<2]), version != "ff" else { return nil }
        // Version 00 is exactly 55 characters; a later one may add fields after another dash.
        if version == "00" { guard b.count == 55 else { return nil } } else if b.count > 55, b[55] != dash { return nil }
        let traceID = b[3..<35], spanID = b[36..<52], flags = b[53..<55]
        guard isHex(traceID), isHex(spanID), isHex(flags), !isZero(traceID), !isZero(spanID) else { return nil }
        let state = tracestate?.trimmingCharacters(in: .whitespaces)
        return TraceContext(
            traceID: String(decoding: traceID, as: UTF8.self), parentSpanID: String(decoding: spanID, as: UTF8.self),
            flags: String(decoding: flags, as: UTF8.self), tracestate: state?.isEmpty == false ? state : nil)
    }

    /// Whether `text` is a valid trace id (32 lower-case hex digits, not all zero).
    public static func isTraceID(_ text: String) -> Bool {
        let b = Array(text.utf8)
        return b.count == 32 && isHex(b[...]) && !isZero(b[...])
    }

    /// The span of one attempt: the same id wherever it is computed (coordinator, worker, exporter),
    /// so the attempt's command, its results and its exported span agree without carrying it.
    public static func spanID(of attempt: AttemptID) -> String { hex64(mix("attempt", attempt.description)) }

    /// The span of the run as a whole, the parent of its attempts' spans.
    public static func runSpanID(_ runID: RunID) -> String { hex64(mix("run", runID)) }

    /// A trace id derived from a unique seed (an event's source and id), for a run request that came
    /// without a usable `traceparent`: every redelivery and every rebuild from the log gives the same
    /// trace, where a random one would differ each time.
    public static func derivedTraceID(from seed: String) -> String {
        hex64(mix("trace-hi", seed)) + hex64(mix("trace-lo", seed))
    }

    // FNV-1a over the text, finished with SplitMix64 so nearby seeds spread over all 64 bits. Not a
    // cryptographic hash: trace and span ids only need to be unique and well spread.
    private static func mix(_ domain: String, _ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func add(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        // Byte by byte over the domain, a 0 and the text, without joining them into an array first
        // (every run request without a traceparent comes through here).
        for byte in domain.utf8 { add(byte) }
        add(0)
        for byte in text.utf8 { add(byte) }
        var z = hash &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        z ^= z >> 31
        return z == 0 ? 1 : z  // an all-zero id is invalid
    }

    /// 16 lower-case hex digits, zero-padded.
    public static func hex64(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    private static let dash = UInt8(ascii: "-")
    private static func isHex(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
    private static func isZero(_ bytes: ArraySlice<UInt8>) -> Bool { bytes.allSatisfy { $0 == 48 } }
}
