import Foundation
import LockstepCore

/// Why an event's data cannot be read: which field and what was wrong. Goes to the dead-letter topic.
public struct WireError: Error, Sendable, Hashable, CustomStringConvertible {
    public var eventType: String
    public var message: String
    public init(_ eventType: String, _ message: String) {
        self.eventType = eventType
        self.message = message
    }
    public var description: String {
        let schema = eventType.split(separator: " ").first.map(String.init) ?? eventType
        return "\(eventType): \(message); the data must match topics/schemas/\(schema).json"
    }
}

/// Typed reads of an event's JSON data, each naming the field it failed on.
struct WireFields {
    let object: [String: JSONValue]
    let type: String

    init(_ data: JSONValue?, type: String) throws(WireError) {
        guard case .object(let object)? = data else { throw WireError(type, "data must be a JSON object") }
        self.object = object
        self.type = type
    }

    func string(_ key: String) throws(WireError) -> String {
        guard let value = object[key]?.stringValue, !value.isEmpty else { throw WireError(type, "`\(key)` must be a non-empty string") }
        return value
    }
    func optionalString(_ key: String) throws(WireError) -> String? {
        guard let value = object[key], value != .null else { return nil }
        guard let s = value.stringValue else { throw WireError(type, "`\(key)` must be a string") }
        return s
    }
    func int(_ key: String) throws(WireError) -> Int {
        guard let value = object[key]?.intValue else { throw WireError(type, "`\(key)` must be an integer") }
        return Int(value)
    }
    func optionalInt(_ key: String) throws(WireError) -> Int64? {
        guard let value = object[key], value != .null else { return nil }
        guard let i = value.intValue else { throw WireError(type, "`\(key)` must be an integer") }
        return i
    }
    func bool(_ key: String, default fallback: Bool) throws(WireError) -> Bool {
        guard let value = object[key], value != .null else { return fallback }
        guard let b = value.boolValue else { throw WireError(type, "`\(key)` must be true or false") }
        return b
    }
    func date(_ key: String) throws(WireError) -> Date {
        guard let text = object[key]?.stringValue, let date = ISO8601.parse(text) else {
            throw WireError(type, "`\(key)` must be an RFC 3339 timestamp such as 2025-09-18T02:00:00Z")
        }
        return date
    }
    func optionalDate(_ key: String) throws(WireError) -> Date? {
        guard let value = object[key], value != .null else { return nil }
        guard let text = value.stringValue, let date = ISO8601.parse(text) else {
            throw WireError(type, "`\(key)` must be an RFC 3339 timestamp such as 2025-09-18T02:00:00Z")
        }
        return date
    }
    func json(_ key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }
    func object(_ key: String) throws(WireError) -> [String: JSONValue] {
        guard let value = object[key], value != .null else { return [:] }
        guard case .object(let o) = value else { throw WireError(type, "`\(key)` must be a JSON object") }
        return o
    }
    func strings(_ key: String) throws(WireError) -> [String] {
        guard let value = object[key], value != .null else { return [] }
        guard case .array(let items) = value else { throw WireError(type, "`\(key)` must be a list of strings") }
        var out: [String] = []
        for item in items {
            guard let s = item.stringValue else { throw WireError(type, "`\(key)` must be a list of strings") }
            out.append(s)
        }
        return out
    }
}

/// Builds an event's JSON data, leaving out absent optional fields.
public struct WireObject: Sendable {
    public var fields: [String: JSONValue] = [:]
    public init() {}
    public subscript(key: String) -> JSONValue? {
        get { fields[key] }
        set { fields[key] = newValue }
    }
    public mutating func set(_ key: String, _ value: String?) { if let value { fields[key] = .string(value) } }
    public mutating func set(_ key: String, _ value: Date?) { if let value { fields[key] = .string(ISO8601.format(value)) } }
    public mutating func set(_ key: String, _ value: Int?) { if let value { fields[key] = .int(Int64(value)) } }
    public mutating func set(_ key: String, _ value: Int64?) { if let value { fields[key] = .int(value) } }
    public mutating func set(_ key: String, _ value: JSONValue?) { if let value { fields[key] = value } }
    public var json: JSONValue { .object(fields) }
}
