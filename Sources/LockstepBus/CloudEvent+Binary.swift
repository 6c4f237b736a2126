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
        var attributes = Attributes()
        var contentType: String?
        var traceparent: String?
        var notUTF8: (name: String, bytes: Int)?

        init(_ headers: [BusHeader]) {
            for header in headers {
                let name = header.name.utf8
                if name.starts(with: CloudEvent.headerPrefix.utf8) {
                    let attribute = String(decoding: name.dropFirst(CloudEvent.headerPrefix.utf8.count), as: UTF8.self)
                    if attribute == "specversion" { hasSpecVersion = true }
                    if let text = String(validating: header.value, as: UTF8.self) {
                        attributes.set(attribute, text)
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

    /// An event's attributes as a record carries them, before they are checked: the context
    /// attributes in fields, the others as extensions. Kept in fields rather than one dictionary
    /// then split: every record every component consumes is sorted here, and hashing each name
    /// twice was a fifth of decoding a small event.
    struct Attributes {
        var specversion, id, source, type, time, subject, datacontenttype: String?
        var extensions: [String: String] = [:]

        /// The attribute `name`; the last of a repeated one is kept. Context attributes Lockstep does
        /// not keep (`dataschema`, `data`, `data_base64`) are dropped, as they were never extensions.
        mutating func set(_ name: String, _ value: String) {
            switch name {
            case "specversion": specversion = value
            case "id": id = value
            case "source": source = value
            case "type": type = value
            case "time": time = value
            case "subject": subject = value
            case "datacontenttype": datacontenttype = value
            case "dataschema", "data", "data_base64": break
            default: extensions[name] = value
            }
        }

        /// The event, checking the attributes CloudEvents 1.0 requires.
        func event(data: JSONValue?) -> Result<CloudEvent, EventDecodingError.Reason> {
            guard let specversion else { return .failure(.missingAttribute("specversion")) }
            guard specversion == specVersion else { return .failure(.unsupportedSpecVersion(specversion)) }
            guard let id, !id.isEmpty else { return .failure(.missingAttribute("id")) }
            guard let source, !source.isEmpty else { return .failure(.missingAttribute("source")) }
            guard let type, !type.isEmpty else { return .failure(.missingAttribute("type")) }
            var parsedTime: Date?
            if let time {
                guard let parsed = CloudEventTime.parse(time) else {
                    return .failure(.invalidAttribute(name: "time", value: time, why: "not an RFC 3339 timestamp"))
                }
                parsedTime = parsed
            }
            return .success(CloudEvent(
                id: id, source: source, type: type, time: parsedTime, subject: subject, datacontenttype: datacontenttype,
                data: data, extensions: extensions))
        }
    }

    private static func binary(_ record: BusRecord, _ headers: BinaryHeaders) -> Result<CloudEvent, EventDecodingError.Reason> {
        if let (name, bytes) = headers.notUTF8 {
            return .failure(.invalidAttribute(name: name, value: "<\(bytes) bytes>", why: "header value is not UTF-8"))
        }
        var attributes = headers.attributes
        let contentType = headers.contentType
        if attributes.extensions["traceparent"] == nil, let trace = headers.traceparent {
            attributes.extensions["traceparent"] = trace
        }
        if let contentType { attributes.datacontenttype = contentType }
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
        return attributes.event(data: data)
    }

    /// Builds an event from string attributes, checking the ones CloudEvents 1.0 requires.
    static func fromAttributes(_ named: [String: String], data: JSONValue?) -> Result<CloudEvent, EventDecodingError.Reason> {
        var attributes = Attributes()
        for (name, value) in named { attributes.set(name, value) }
        return attributes.event(data: data)
    }

    static func jsonErrorSummary(_ error: JSONParseError, bytes: [UInt8]) -> String {
        let preview = String(decoding: bytes.prefix(40), as: UTF8.self)
        return "\(bytes.count) bytes starting '\(preview)' do not parse: \(error)"
    }
}
