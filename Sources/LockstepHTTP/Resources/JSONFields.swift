import Foundation
import LockstepCore

/// Building response objects: dates as RFC 3339 strings, absent values as JSON null (every
/// documented member is always present, so a client never guesses).
struct JSONFields {
    private(set) var object: [String: JSONValue] = [:]

    subscript(key: String) -> JSONValue? {
        get { object[key] }
        set { object[key] = newValue ?? .null }
    }

    mutating func set(_ key: String, _ value: String?) { object[key] = value.map(JSONValue.string) ?? .null }
    mutating func set(_ key: String, _ value: Date?) { object[key] = value.map { .string(ISO8601.format($0)) } ?? .null }
    mutating func set(_ key: String, _ value: Int?) { object[key] = value.map { .int(Int64($0)) } ?? .null }
    mutating func set(_ key: String, _ value: Double?) { object[key] = value.map(JSONValue.double) ?? .null }
    mutating func set(_ key: String, _ value: Bool) { object[key] = .bool(value) }
    mutating func set(_ key: String, _ value: [String]) { object[key] = .array(value.map(JSONValue.string)) }

    var json: JSONValue { .object(object) }
}

extension Duration {
    /// Seconds with millisecond precision, as Airflow's `duration`.
    var secondsValue: Double { (seconds * 1000).rounded() / 1000 }
}
