import LockstepOperators
import LockstepWire

extension EmittedEvent.Kind {
    /// The CloudEvent type an operator's event is published as (`topics/`).
    public var eventType: String {
        switch self {
        case .healthResult: EventType.healthResult
        case .modelTrained: EventType.modelTrained
        }
    }

    /// Where it is published.
    public func topic(in topics: Topics) -> String {
        switch self {
        case .healthResult: topics.healthResults
        case .modelTrained: topics.modelEvents
        }
    }
}
