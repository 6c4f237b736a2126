import Foundation
import LockstepCore

// The structured-mode JSON as text: how outboxes and dead letters keep an event until it is published.
extension CloudEvent {
    public var structuredJSON: String { String(decoding: structuredRecord(topic: "", key: nil).value, as: UTF8.self) }

    public init(structuredJSON text: String) throws(EventDecodingError.Reason) {
        switch CloudEvent.structured(Array(text.utf8), headers: []) {
        case .success(let event): self = event
        case .failure(let reason): throw reason
        }
    }
}
