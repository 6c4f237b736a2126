import Foundation
import LockstepBus
import LockstepCore
import Testing

@Suite("CloudEvent envelope")
struct CloudEventTests {
    let position = RecordPosition(topic: "runs.events", partition: 2, offset: 41)

    func asRead(_ record: OutgoingRecord) -> BusRecord {
        BusRecord(position: position, key: record.key, value: record.value, headers: record.headers, timestamp: Date())
    }

    var sample: CloudEvent {
        var event = CloudEvent(
            id: "evt-7", source: "/lockstep/coordinator", type: "io.lockstep.run.succeeded",
            time: Date(timeIntervalSince1970: 1_758_160_800.5), subject: "run-1",
            data: ["run": "run-1", "tries": 3, "score": 0.25, "tags": ["a", "b"], "none": nil])
        event.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        event.extensions["tracestate"] = "rojo=00f067aa0ba902b7"
        event.replayof = "evt-3"
        return event
    }

    @Test func binaryModeWritesCeHeadersAndJSONValue() throws {
        let record = sample.record(topic: "runs.events", key: "run-1")
        let headers = Dictionary(record.headers.map { ($0.name, $0.stringValue) }, uniquingKeysWith: { a, _ in a })
        #expect(headers["ce_specversion"] == "1.0")
        #expect(headers["ce_id"] == "evt-7")
        #expect(headers["ce_source"] == "/lockstep/coordinator")
        #expect(headers["ce_type"] == "io.lockstep.run.succeeded")
        #expect(headers["ce_time"] == "2025-09-18T02:00:00.500000Z")
        #expect(headers["ce_subject"] == "run-1")
        #expect(headers["ce_replayof"] == "evt-3")
        #expect(headers["ce_traceparent"] == sample.traceparent)
        #expect(headers["traceparent"] == sample.traceparent)
        #expect(headers["ce_tracestate"] == "rojo=00f067aa0ba902b7")
        #expect(headers["content-type"] == "application/json")
        #expect(record.key == "run-1")
        #expect(try JSONValue.parse(String(decoding: record.value, as: UTF8.self)) == sample.data)
        #expect(try CloudEvent(asRead(record)) == sample)
    }

    @Test func structuredModeRoundTrips() throws {
        let record = sample.structuredRecord(topic: "runs.events", key: "run-1")
        #expect(record.headers.first { $0.name == "content-type" }?.stringValue.hasPrefix("application/cloudevents+json") == true)
        // The tracing extension's attributes are top-level members of the envelope.
        let envelope = try JSONValue.parse(String(decoding: record.value, as: UTF8.self))
        #expect(envelope.objectValue?["traceparent"] == .string("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
        #expect(envelope.objectValue?["tracestate"] == .string("rojo=00f067aa0ba902b7"))
        #expect(try CloudEvent(asRead(record)) == sample)
    }

    @Test func structuredModeFromAnotherProducer() throws {
        let json = """
            {"specversion":"1.0","id":"x1","source":"https://producer.example/api","type":"io.lockstep.run.requested",
             "time":"2025-09-18T04:00:00.25+02:00","datacontenttype":"application/json","data":{"dag":"training"},
             "replayof":"x0"}
            """
        let record = BusRecord(position: position, key: "training", value: Array(json.utf8),
                               headers: [BusHeader("content-type", "application/cloudevents+json; charset=utf-8"),
                                         BusHeader("traceparent", "00-aa-bb-01")],
                               timestamp: Date())
        let event = try CloudEvent(record)
        #expect(event.id == "x1")
        #expect(event.time == Date(timeIntervalSince1970: 1_758_160_800.25))
        #expect(event.data == ["dag": "training"])
        #expect(event.replayof == "x0")
        #expect(event.traceparent == "00-aa-bb-01")
    }

    @Test func plainTraceparentHeaderIsCarriedInBinaryMode() throws {
        var record = CloudEvent(id: "1", source: "/s", type: "t").record(topic: "t", key: nil)
        record.headers.append(BusHeader("traceparent", "00-cc-dd-01"))
        #expect(try CloudEvent(asRead(record)).traceparent == "00-cc-dd-01")
    }

    @Test(arguments: [
        ("no headers, not JSON", [BusHeader]()  , "hello", EventDecodingError.Reason.notACloudEvent(contentType: nil)),
        ("missing id", [BusHeader("ce_specversion", "1.0"), BusHeader("ce_source", "/s"), BusHeader("ce_type", "t")], "{}",
         .missingAttribute("id")),
        ("specversion 0.3", [BusHeader("ce_specversion", "0.3"), BusHeader("ce_id", "1"), BusHeader("ce_source", "/s"),
                             BusHeader("ce_type", "t")], "{}", .unsupportedSpecVersion("0.3")),
        ("data not JSON", [BusHeader("ce_specversion", "1.0"), BusHeader("ce_id", "1"), BusHeader("ce_source", "/s"),
                           BusHeader("ce_type", "t"), BusHeader("content-type", "application/json")], "{oops",
         .dataNotJSON("5 bytes starting '{oops' do not parse: at byte 1: expected a member name in double quotes, found `oops`")),
        ("binary data", [BusHeader("ce_specversion", "1.0"), BusHeader("ce_id", "1"), BusHeader("ce_source", "/s"),
                         BusHeader("ce_type", "t"), BusHeader("content-type", "application/octet-stream")], "xyz",
         .unsupportedContentType("application/octet-stream")),
        ("bad time", [BusHeader("ce_specversion", "1.0"), BusHeader("ce_id", "1"), BusHeader("ce_source", "/s"),
                      BusHeader("ce_type", "t"), BusHeader("ce_time", "yesterday")], "",
         .invalidAttribute(name: "time", value: "yesterday", why: "not an RFC 3339 timestamp")),
        ("structured, not an object", [BusHeader("content-type", "application/cloudevents+json")], "[1]",
         .malformedEnvelope("the value is JSON but not an object")),
        ("specversion not UTF-8", [BusHeader("ce_specversion", [0xFF, 0x31]), BusHeader("ce_id", "1"), BusHeader("ce_source", "/s"),
                                   BusHeader("ce_type", "t")], "{}",
         .invalidAttribute(name: "specversion", value: "<2 bytes>", why: "header value is not UTF-8")),
        ("the first of two content types", [BusHeader("ce_specversion", "1.0"), BusHeader("ce_id", "1"), BusHeader("ce_source", "/s"),
                                            BusHeader("ce_type", "t"), BusHeader("content-type", "text/plain"),
                                            BusHeader("content-type", "application/json")], "{}",
         .unsupportedContentType("text/plain")),
    ])
    func invalidRecordsAreTypedErrors(_ name: String, headers: [BusHeader], value: String, reason: EventDecodingError.Reason) {
        let record = BusRecord(position: position, key: nil, value: Array(value.utf8), headers: headers, timestamp: Date())
        #expect(throws: EventDecodingError(position: position, reason: reason), "\(name)") { try CloudEvent(record) }
    }

    @Test func decodingErrorNamesItsPositionAndReason() {
        let error = EventDecodingError(position: position, reason: .missingAttribute("type"))
        #expect(error.description.contains("runs.events[2]@41"))
        #expect(error.description.contains("missing required attribute 'type'"))
    }

    @Test(arguments: [
        ("2025-09-18T02:00:00Z", 1_758_160_800.0),
        ("2025-09-18T02:00:00.123456Z", 1_758_160_800.123456),
        ("2025-09-18t04:30:00.5+02:30", 1_758_160_800.5),
        ("1969-12-31T23:59:59.999999Z", -0.000001),
        ("2024-02-29T12:00:00-01:00", 1_709_211_600.0),
    ])
    func rfc3339Parsing(_ text: String, seconds: Double) {
        #expect(CloudEvent.parseTime(text) == Date(timeIntervalSince1970: seconds))
    }

    @Test(arguments: ["2025-09-18", "2025-09-18T02:00:00", "2025-13-01T00:00:00Z", "2025-09-18T02:00:00.Z", "x"])
    func rfc3339Rejects(_ text: String) {
        #expect(CloudEvent.parseTime(text) == nil)
    }

    @Test func timeRoundTripsAtMicroseconds() {
        for seconds in [0.0, 1_758_160_800.000001, 1_758_160_800.999999, 4_102_444_800.25, -86_400.5] {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(CloudEvent.parseTime(CloudEvent.formatTime(date)) == date, "\(seconds)")
        }
        #expect(CloudEvent.formatTime(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000000Z")
    }
}
