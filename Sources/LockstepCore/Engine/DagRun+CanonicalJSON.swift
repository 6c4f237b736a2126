import Foundation

/// A run as the state store keeps it, printed directly: the bytes `JSONValueEncoder` and
/// `canonicalJSON()` give for the run's synthesized `Encodable` (members by their names' UTF-8
/// bytes, absent optionals left out, a `Date` as its seconds since 2001), so rows written either way
/// read the same.
///
/// Why by hand: the store prints every run the coordinator touches on each commit, and a rebuild
/// every run there is. Through the generic encoder a finished five-task run took about 46 µs (a tree
/// of dictionaries built, copied and sorted again for printing), which was most of a rebuild's store
/// write (docs/performance.md). `DagRunCanonicalJSONTests` holds the two to the same bytes and
/// counts each type's stored properties, so a field added to one of these types without a line
/// here fails a test instead of going unstored.
extension DagRun {
    public func canonicalJSON() -> String {
        var out = CanonicalJSONWriter()
        out.bytes.reserveCapacity(256 + tasks.count * 160)
        print(into: &out)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    // Each `print` writes members in the sorted order of their names; the tests check the bytes.
    func print(into out: inout CanonicalJSONWriter) {
        out.object { out in
            out.member("conf") { conf.printCanonical(into: &$0.bytes) }
            out.member("dagID", dagID)
            out.member("failure", failure)
            out.member("finishedAt", finishedAt)
            out.member("id", id)
            out.member("logicalDate", logicalDate)
            out.member("requestedAt", requestedAt)
            out.member("sequence", sequence)
            out.member("startedAt", startedAt)
            out.member("state", state.rawValue)
            out.member("tasks") { out in
                out.object { out in
                    for taskID in tasks.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                        out.member(taskID) { tasks[taskID]!.print(into: &$0) }
                    }
                }
            }
            if let trace { out.member("trace") { trace.print(into: &$0) } }
            out.member("trigger") { trigger.print(into: &$0) }
        }
    }
}

extension TaskInstance {
    func print(into out: inout CanonicalJSONWriter) {
        out.object { out in
            out.member("attempts") { $0.array(attempts) { $1.print(into: &$0) } }
            out.member("maxTries", maxTries)
            if let output { out.member("output") { output.printCanonical(into: &$0.bytes) } }
            out.member("retryAt", retryAt)
            out.member("state", state.rawValue)
            out.member("taskID", taskID)
            out.member("tryNumber", tryNumber)
            out.member("waitingFor", waitingFor)
            out.member("warnings") { $0.array(warnings) { JSONValue.printString($1, into: &$0.bytes) } }
        }
    }
}

extension TaskAttempt {
    func print(into out: inout CanonicalJSONWriter) {
        out.object { out in
            if let error {
                out.member("error") { out in
                    out.object { out in
                        out.member("category", error.category)
                        out.member("message", error.message)
                        out.member("retryable", error.retryable)
                    }
                }
            }
            out.member("finishedAt", finishedAt)
            out.member("outcome", outcome?.rawValue)
            out.member("scheduledAt", scheduledAt)
            out.member("startedAt", startedAt)
            out.member("tryNumber", tryNumber)
            out.member("worker", worker)
        }
    }
}

extension TraceContext {
    func print(into out: inout CanonicalJSONWriter) {
        out.object { out in
            out.member("flags", flags)
            out.member("parentSpanID", parentSpanID)
            out.member("traceID", traceID)
            out.member("tracestate", tracestate)
        }
    }
}

extension RunTrigger {
    /// As the synthesized `Encodable` of an enum writes it: the case's name holding its labelled values.
    func print(into out: inout CanonicalJSONWriter) {
        out.object { out in
            switch self {
            case .schedule: out.member("schedule") { $0.object { _ in } }
            case .manual: out.member("manual") { $0.object { _ in } }
            case .backfill: out.member("backfill") { $0.object { _ in } }
            case .replay(let of):
                out.member("replay") { $0.object { $0.member("of", of) } }
            case .upstream(let dagID, let runID):
                out.member("upstream") { out in
                    out.object { out in
                        out.member("dagID", dagID)
                        out.member("runID", runID)
                    }
                }
            }
        }
    }
}

/// Writes compact JSON objects member by member; the caller gives the members in sorted order.
/// An optional member that is nil is left out, as synthesized `Encodable` leaves it out.
struct CanonicalJSONWriter {
    var bytes: [UInt8] = []
    /// Whether the object being written has no member yet, one level per open object.
    private var empty: [Bool] = []

    /// An object, its members written by `members`.
    mutating func object(_ members: (inout CanonicalJSONWriter) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        empty.append(true)
        members(&self)
        empty.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    /// An array of `elements`, each written by `element`.
    mutating func array<Element>(_ elements: [Element], _ element: (inout CanonicalJSONWriter, Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (position, value) in elements.enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            element(&self, value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func member(_ name: String, _ value: (inout CanonicalJSONWriter) -> Void) {
        if empty[empty.count - 1] {
            empty[empty.count - 1] = false
        } else {
            bytes.append(UInt8(ascii: ","))
        }
        JSONValue.printString(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        value(&self)
    }

    mutating func member(_ name: String, _ value: String?) {
        guard let value else { return }
        member(name) { JSONValue.printString(value, into: &$0.bytes) }
    }

    mutating func member(_ name: String, _ value: Int) {
        member(name) { $0.bytes.append(contentsOf: String(value).utf8) }
    }

    mutating func member(_ name: String, _ value: Bool) {
        member(name) { $0.bytes.append(contentsOf: (value ? "true" : "false").utf8) }
    }

    /// A date as `Date`'s `Encodable` gives it: seconds since 2001 as a double.
    mutating func member(_ name: String, _ value: Date?) {
        guard let value else { return }
        member(name) { JSONValue.double(value.timeIntervalSinceReferenceDate).printCanonical(into: &$0.bytes) }
    }
}
