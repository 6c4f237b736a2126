import Foundation
import LockstepCore

// Kafka protocol binding, structured content mode: the whole event as one JSON object in the value.
extension CloudEvent {
    static let structuredContentType = "application/cloudevents+json"

    /// The event as a record in structured mode, for consumers that want the envelope in the value.
    public func structuredRecord(topic: String, key: String?) -> OutgoingRecord {
        var object: [String: JSONValue] = [
            "specversion": .string(CloudEvent.specVersion), "id": .string(id), "source": .string(source),
            "type": .string(type),
        ]
        if let time { object["time"] = .string(CloudEventTime.format(time)) }
        if let subject { object["subject"] = .string(subject) }
        if let datacontenttype { object["datacontenttype"] = .string(datacontenttype) }
        if let data { object["data"] = data }
        for (name, value) in extensions { object[name] = .string(value) }
        var headers = [BusHeader(CloudEvent.contentTypeHeader, CloudEvent.structuredContentType + "; charset=utf-8")]
        if let traceparent { headers.append(BusHeader(CloudEvent.traceparentHeader, traceparent)) }
        return OutgoingRecord(
            topic: topic, key: key, value: JSONValue.object(object).canonicalJSONBytes(), headers: headers)
    }

    static func structured(_ value: [UInt8], headers: [BusHeader]) -> Result<CloudEvent, EventDecodingError.Reason> {
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(utf8: value)
        } catch {
            return .failure(.malformedEnvelope(jsonErrorSummary(error, bytes: value)))
        }
        guard case .object(let object) = parsed else {
            return .failure(.malformedEnvelope("the value is JSON but not an object"))
        }
        if object["data_base64"] != nil {
            return .failure(.unsupportedContentType("binary data (data_base64)"))
        }
        var attributes: [String: String] = [:]
        for (name, member) in object where name != "data" {
            switch member {
            case .string(let s): attributes[name] = s
            case .bool(let b): attributes[name] = b ? "true" : "false"
            case .int(let i): attributes[name] = String(i)
            case .null: continue
            default:
                return .failure(.invalidAttribute(name: name, value: member.canonicalJSON(),
                                                  why: "attributes are strings, booleans or integers"))
            }
        }
        if let type = attributes["datacontenttype"], object["data"] != nil, !isJSON(contentType: type) {
            return .failure(.unsupportedContentType(type))
        }
        if attributes["traceparent"] == nil, let trace = headers.first(where: { $0.name == traceparentHeader }) {
            attributes["traceparent"] = trace.stringValue
        }
        return fromAttributes(attributes, data: object["data"].flatMap { $0 == .null ? nil : $0 })
    }
}
