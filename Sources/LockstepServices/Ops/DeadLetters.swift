import Foundation
import LockstepBus
import LockstepCore
import LockstepWire

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
    /// Marks a resubmitted record (`ce_redriveof`: the dead letter's id), so a worker runs an attempt
    /// that already has a recorded result again — the point of resubmitting a notification.
    public static let redriveExtension = "redriveof"

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
        var headers = entry.headers.keys.sorted().map { BusHeader($0, entry.headers[$0]!) }
        var value = entry.value
        if entry.headers["content-type"]?.hasPrefix("application/cloudevents+json") == true,
            var event = try? CloudEvent(structuredJSON: String(decoding: value, as: UTF8.self))
        {
            event.extensions[Self.redriveExtension] = entry.id
            value = Array(event.structuredJSON.utf8)
        } else if entry.headers["ce_specversion"] != nil {
            headers.append(BusHeader("ce_" + Self.redriveExtension, entry.id))
        }
        try await runtime.bus.publish(runtime.stamped(OutgoingRecord(topic: entry.originalTopic, key: entry.key, value: value, headers: headers)))
        try await ops.audit("redrive", target: entry.id, details: ["topic": .string(entry.originalTopic), "reason": .string(entry.reason)])
        return entry
    }
}
