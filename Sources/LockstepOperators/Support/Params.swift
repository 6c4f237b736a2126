import Foundation
import LockstepCore

/// A task's params after template rendering, read with typed accessors whose errors name the param.
public struct Params: Sendable {
    public let values: [String: JSONValue]
    public let origin: String

    public init(_ context: OperatorContext) throws(OperatorError) {
        let renderer = TemplateRenderer(context)
        var rendered: [String: JSONValue] = [:]
        for (key, value) in context.params { rendered[key] = try renderer.render(value) }
        values = rendered
        origin = "\(context.dagID).\(context.taskID)"
    }

    public subscript(key: String) -> JSONValue? { values[key] }

    public func string(_ key: String) throws(OperatorError) -> String? {
        guard let value = values[key], value != .null else { return nil }
        guard let s = value.stringValue else { throw mistyped(key, "a string") }
        return s
    }

    public func requiredString(_ key: String) throws(OperatorError) -> String {
        guard let s = try string(key), !s.isEmpty else { throw .config("task \(origin): param `\(key)` is required") }
        return s
    }

    public func int(_ key: String, default fallback: Int) throws(OperatorError) -> Int {
        guard let value = values[key], value != .null else { return fallback }
        if let i = value.intValue { return Int(i) }
        if let s = value.stringValue, let i = Int(s) { return i }
        throw mistyped(key, "an integer")
    }

    public func bool(_ key: String, default fallback: Bool) throws(OperatorError) -> Bool {
        guard let value = values[key], value != .null else { return fallback }
        if let b = value.boolValue { return b }
        if let s = value.stringValue, let b = Bool(s.lowercased()) { return b }
        throw mistyped(key, "true or false")
    }

    /// A number of seconds (integer or fraction, or a numeric string after template rendering).
    public func seconds(_ key: String, default fallback: Double) throws(OperatorError) -> Duration {
        var secs = fallback
        if let value = values[key], value != .null {
            if let d = value.doubleValue { secs = d }
            else if let s = value.stringValue, let d = Double(s) { secs = d }
            else { throw mistyped(key, "a number of seconds") }
        }
        guard secs >= 0, secs.isFinite else { throw .config("task \(origin): param `\(key)` must be a non-negative number of seconds") }
        return .milliseconds(Int64((secs * 1000).rounded()))
    }

    public func strings(_ key: String) throws(OperatorError) -> [String]? {
        guard let value = values[key], value != .null else { return nil }
        guard let array = value.arrayValue else { throw mistyped(key, "a list of strings") }
        var out: [String] = []
        for element in array {
            guard let s = element.stringValue else { throw mistyped(key, "a list of strings") }
            out.append(s)
        }
        return out
    }

    public func object(_ key: String) throws(OperatorError) -> [String: JSONValue]? {
        guard let value = values[key], value != .null else { return nil }
        guard let o = value.objectValue else { throw mistyped(key, "a mapping") }
        return o
    }

    private func mistyped(_ key: String, _ expected: String) -> OperatorError {
        .config("task \(origin): param `\(key)` must be \(expected)")
    }
}

extension OperatorContext {
    /// The output of upstream task `taskID`, or an input error saying which task this one needs.
    public func upstreamOutput(_ taskID: String) throws(OperatorError) -> [String: JSONValue] {
        guard let output = upstream[taskID]?.objectValue else {
            throw .input("task \(dagID).\(self.taskID) needs the output of upstream task `\(taskID)`, which is missing; "
                + "declare it upstream or set this task's `source` param")
        }
        return output
    }
}
