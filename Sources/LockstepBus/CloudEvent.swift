import Foundation
import LockstepCore

/// A CloudEvents 1.0 event: the envelope of everything Lockstep publishes.
public struct CloudEvent: Sendable, Hashable {
    /// The only CloudEvents version this envelope reads and writes.
    public static let specVersion = "1.0"
    public static let jsonContentType = "application/json"

    public var id: String
    /// A URI reference naming what produced the event, e.g. `/lockstep/coordinator`.
    public var source: String
    /// Reverse-DNS event type, e.g. `io.lockstep.run.requested`.
    public var type: String
    public var time: Date?
    /// What the event is about within the source, e.g. the run id.
    public var subject: String?
    /// Lockstep events carry JSON, so this is `application/json` or another JSON media type.
    public var datacontenttype: String?
    public var data: JSONValue?
    /// Extension attributes by lower-case name (`traceparent`, `replayof`, …), as their string form.
    public var extensions: [String: String]

    public init(
        id: String, source: String, type: String, time: Date? = nil, subject: String? = nil,
        datacontenttype: String? = CloudEvent.jsonContentType, data: JSONValue? = nil,
        extensions: [String: String] = [:]
    ) {
        self.id = id
        self.source = source
        self.type = type
        self.time = time
        self.subject = subject
        self.datacontenttype = datacontenttype
        self.data = data
        self.extensions = extensions
    }

    /// The W3C trace context of the work that produced this event (distributed tracing extension).
    public var traceparent: String? {
        get { extensions["traceparent"] }
        set { extensions["traceparent"] = newValue }
    }

    /// The id of the event this one replays: a rerun names what it reruns instead of repeating it.
    public var replayof: String? {
        get { extensions["replayof"] }
        set { extensions["replayof"] = newValue }
    }

    /// Whether `contentType` names JSON (`application/json`, `text/json`, `…+json`), parameters ignored.
    static func isJSON(contentType: String) -> Bool {
        // What Lockstep itself publishes, on every record: decided without Foundation's trimming and
        // lower-casing below (3 % of a rebuild's CPU).
        if contentType == jsonContentType { return true }
        let media = contentType.split(separator: ";", maxSplits: 1)[0]
            .trimmingCharacters(in: .whitespaces).lowercased()
        return media == "application/json" || media == "text/json" || media.hasSuffix("+json")
    }
}
