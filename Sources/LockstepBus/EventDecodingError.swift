/// A record that is not a valid CloudEvent, with where it sits in the log and why it was refused.
public struct EventDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why a record could not be read as an event.
    public enum Reason: Error, Sendable, Hashable, CustomStringConvertible {
        /// Neither `ce_specversion` headers (binary mode) nor `application/cloudevents+json` (structured).
        case notACloudEvent(contentType: String?)
        case missingAttribute(String)
        case unsupportedSpecVersion(String)
        case invalidAttribute(name: String, value: String, why: String)
        case unsupportedContentType(String)
        case dataNotJSON(String)
        case malformedEnvelope(String)

        public var description: String {
            switch self {
            case .notACloudEvent(let contentType):
                return "not a CloudEvent: no ce_specversion header and content-type is "
                    + (contentType.map { "'\($0)'" } ?? "absent") + ", not application/cloudevents+json"
            case .missingAttribute(let name):
                return "missing required attribute '\(name)'"
            case .unsupportedSpecVersion(let version):
                return "unsupported specversion '\(version)' (only \(CloudEvent.specVersion) is read)"
            case .invalidAttribute(let name, let value, let why):
                return "attribute '\(name)' = '\(value)' is invalid: \(why)"
            case .unsupportedContentType(let type):
                return "datacontenttype '\(type)' is not JSON; Lockstep events carry JSON data"
            case .dataNotJSON(let detail):
                return "data is not JSON: \(detail)"
            case .malformedEnvelope(let detail):
                return "structured-mode envelope is not a JSON object of attributes: \(detail)"
            }
        }
    }

    public var position: RecordPosition
    public var reason: Reason

    public init(position: RecordPosition, reason: Reason) {
        self.position = position
        self.reason = reason
    }

    public var topic: String { position.topic }
    public var partition: Int32 { position.partition }
    public var offset: Int64 { position.offset }

    public var description: String {
        "record \(position) is not a valid event: \(reason). Publish CloudEvents 1.0 with JSON data, in binary "
            + "mode (ce_* headers) or structured mode (application/cloudevents+json), as topics/ documents"
    }
}
