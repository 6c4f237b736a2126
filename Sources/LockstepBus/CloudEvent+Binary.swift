import Foundation
import LockstepCore

// Kafka protocol binding, binary content mode: attributes as `ce_*` headers, the data as the value.
extension CloudEvent {
    static let headerPrefix = "ce_"
    /// W3C Trace Context's own Kafka header, read by tracing libraries that know nothing of CloudEvents.
    static let traceparentHeader = "traceparent"
    static let contentTypeHeader = "content-type"

    /// The event as a record in binary mode, keyed by `key` (the run id, or the dag id before a run exists).
    /// The record's timestamp is left to the log (the time of publishing), not the event's `time`: a
    /// replayed or back-dated event must not fall out of retention or time-based seeks on arrival.
    public func record(topic: String, key: String?) -> OutgoingRecord {
        var headers: [BusHeader] = [
            BusHeader("ce_specversion", CloudEvent.specVersion),
            BusHeader("ce_id", id),
            BusHeader("ce_source", source),
            BusHeader("ce_type", type),
        ]
        if let time { headers.append(BusHeader("ce_time", CloudEventTime.format(time))) }
        if let subject { headers.append(BusHeader("ce_subject", subject)) }
        for (name, value) in extensions.sorted(by: { $0.key < $1.key }) {
            headers.append(BusHeader(CloudEvent.headerPrefix + name, value))
        }
        if let traceparent { headers.append(BusHeader(CloudEvent.traceparentHeader, traceparent)) }
        headers.append(BusHeader(CloudEvent.contentTypeHeader, datacontenttype ?? CloudEvent.jsonContentType))
        let value = data?.canonicalJSONBytes() ?? []
        return OutgoingRecord(topic: topic, key: key, value: value, headers: headers)
    }

    /// Reads an event from a record in binary or structured mode.
    /// - Throws: `EventDecodingError` naming the record's position and what is wrong with it.
    public init(_ record: BusRecord) throws(EventDecodingError) {
        func fail(_ reason: EventDecodingError.Reason) -> EventDecodingError {
            EventDecodingError(position: record.position, reason: reason)
        }
        // One pass over the headers, comparing bytes: every record every component consumes comes
        // through here, and three searches plus `hasPrefix` and `dropFirst` on `String` (which
        // compare characters) were a third of decoding a small event.
        let headers = BinaryHeaders(record.headers)
        if !headers.hasSpecVersion {
            if let contentType = headers.contentType, contentType.lowercased().hasPrefix(CloudEvent.structuredContentType) {
                self = try CloudEvent.structured(record.value, headers: record.headers).mapError(fail).get()
                return
            }
            throw fail(.notACloudEvent(contentType: headers.contentType))
        }
        self = try CloudEvent.binary(record, headers).mapError(fail).get()
    }

    /// A record's headers sorted into what binary mode reads: the `ce_` attributes (the last of a
    /// repeated one), the first `content-type` and `traceparent`, and the first `ce_` header whose
    /// value is not UTF-8.
    struct BinaryHeaders {
        /// A `ce_specversion` header is there, UTF-8 or not: the record is in binary mode.
        var hasSpecVersion = false
        var attributes: [String: String] = [:]
        var contentType: String?
        var traceparent: String?
        var notUTF8: (name: String, bytes: Int)?

        init(_ headers: [BusHeader]) {
            attributes.reserveCapacity(headers.count)
            for header in headers {
                let name = header.name.utf8
                if name.starts(with: CloudEvent.headerPrefix.utf8) {
                    let attribute = String(decoding: name.dropFirst(CloudEvent.headerPrefix.utf8.count), as: UTF8.self)
                    if attribute == "specversion" { hasSpecVersion = true }
                    if let text = String(validating: header.value, as: UTF8.self) {
                        attributes[attribute] = text
                    } else if notUTF8 == nil {
                        notUTF8 = (attribute, header.value.count)
                    }
                } else if contentType == nil, header.name == CloudEvent.contentTypeHeader {
                    contentType = header.stringValue
                } else if traceparent == nil, header.name == CloudEvent.traceparentHeader {
                    traceparent = header.stringValue
                }
            }
        }
    }

    private static func binary(_ record: BusRecord, _ headers: BinaryHeaders) -> Result<CloudEvent, EventDecodingError.Reason> {
        if let (name, bytes) = headers.notUTF8 {
            return .failure(.invalidAttribute(name: name, value: "<\(bytes) bytes>", why: "header value is not UTF-8"))
        }
        var attributes = headers.attributes
        let contentType = headers.contentType
        if attributes["traceparent"] == nil, let trace = headers.traceparent {
            attributes["traceparent"] = trace
        }
        if let contentType { attributes["datacontenttype"] = contentType }
        let data: JSONValue?
        if record.value.isEmpty {
            data = nil
        } else {
            if let contentType, !isJSON(contentType: contentType) {
                return .failure(.unsupportedContentType(contentType))
            }
            do {
                data = try JSONValue.parse(utf8: record.value)
            } catch {
                return .failure(.dataNotJSON(jsonErrorSummary(error, bytes: record.value)))
            }
        }
        return fromAttributes(attributes, data: data)
    }

    /// Builds an event from string attributes, checking the ones CloudEvents 1.0 requires.
    static func fromAttributes(_ attributes: [String: String], data: JSONValue?) -> Result<CloudEvent, EventDecodingError.Reason> {
        guard let version = attributes["specversion"] else { return .failure(.missingAttribute("specversion")) }
        guard version == specVersion else { return .failure(.unsupportedSpecVersion(version)) }
        for required in ["id", "source", "type"] where (attributes[required] ?? "").isEmpty {
            return .failure(.missingAttribute(required))
        }
        var time: Date?
        if let text = attributes["time"] {
            guard let parsed = CloudEventTime.parse(text) else {
                return .failure(.invalidAttribute(name: "time", value: text, why: "not an RFC 3339 timestamp"))
            }
            time = parsed
        }
        var extensions: [String: String] = [:]
        for (name, value) in attributes where !contextAttributeNames.contains(name) {
            extensions[name] = value
        }
        return .success(CloudEvent(
            id: attributes["id"]!, source: attributes["source"]!, type: attributes["type"]!, time: time,
            subject: attributes["subject"], datacontenttype: attributes["datacontenttype"], data: data,
            extensions: extensions))
    }

    static func jsonErrorSummary(_ error: JSONParseError, bytes: [UInt8]) -> String {
        let preview = String(decoding: bytes.prefix(40), as: UTF8.self)
        return "\(bytes.count) bytes starting '\(preview)' do not parse: \(error)"
    }
}
