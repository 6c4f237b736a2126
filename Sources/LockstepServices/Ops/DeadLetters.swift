import Foundation
import LockstepBus
import LockstepCore

/// The dead-letter topic, read back: what failed, where, why — and a way to resubmit after a fix.
public struct DeadLetters: Sendable {
    public struct Entry: Sendable {
        public var id: String
        public var time: Date?
        public var component: String
        public var reason: String
        public var originalTopic: String
        public var originalPosition: String?
        public var key: String?
        public var headers: [String: String]
        public var value: [UInt8]
    }

    public let runtime: Runtime

    public init(runtime: Runtime) { self.runtime = runtime }

    public func list() async throws -> [Entry] {
        let records = try await runtime.bus.read(topic: runtime.topics.deadLetters, from: .beginning, to: .latest).readAll()
        return records.compactMap { record in
            guard let event = try? CloudEvent(record), event.type == EventType.deadLetter, let data = event.data,
                let original = data["original"]
            else { return nil }
            var headers: [String: String] = [:]
            for (name, value) in original["headers"]?.objectValue ?? [:] { headers[name] = value.stringValue }
            var value: [UInt8] = []
            if let text = original["value"]?.stringValue { value = Array(text.utf8) }
            if let b64 = original["value_base64"]?.stringValue, let bytes = Data(base64Encoded: b64) { value = Array(bytes) }
            let position = original["partition"]?.intValue.flatMap { p in original["offset"]?.intValue.map { "[\(p)]@\($0)" } }
            return Entry(
                id: event.id, time: event.time, component: data["component"]?.stringValue ?? "?",
                reason: data["reason"]?.stringValue ?? "?", originalTopic: original["topic"]?.stringValue ?? "?",
                originalPosition: position, key: original["key"]?.stringValue, headers: headers, value: value)
        }
    }

    /// Publishes the original record again, as it was, to its topic; records the redrive on the ops topic.
    public func redrive(_ id: String, ops: OpsActions) async throws -> Entry {
        guard let entry = try await list().first(where: { $0.id == id }) else {
            throw OpsError("no dead letter with id `\(id)`; `lockstep deadletters list` shows them")
        }
        let headers = entry.headers.keys.sorted().map { BusHeader($0, entry.headers[$0]!) }
        try await runtime.bus.publish(OutgoingRecord(topic: entry.originalTopic, key: entry.key, value: entry.value, headers: headers))
        try await ops.audit("redrive", target: entry.id, details: ["topic": .string(entry.originalTopic), "reason": .string(entry.reason)])
        return entry
    }
}
