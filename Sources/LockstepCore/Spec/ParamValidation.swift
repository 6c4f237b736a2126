/// Checks a trigger's conf against a DAG's declared params and fills in defaults.
public enum ParamValidation {
    /// The conf with defaults applied, or every problem found. Keys not declared are kept when the
    /// DAG declares no params (free-form conf), and rejected when it does.
    public static func resolve(_ conf: JSONValue, against params: [String: ParamSpec]) -> Result<JSONValue, Problems> {
        guard case .object(var object) = conf else {
            return conf == .null && params.isEmpty ? .success(.emptyObject) : .failure(Problems(["conf must be a JSON object"]))
        }
        guard !params.isEmpty else { return .success(conf) }
        var problems: [String] = []
        for key in object.keys.sorted() where params[key] == nil {
            problems.append("unknown param `\(key)` (declared: \(params.keys.sorted().joined(separator: ", ")))")
        }
        for name in params.keys.sorted() {
            let spec = params[name]!
            if let value = object[name] {
                if !matches(value, spec.type) { problems.append("param `\(name)` must be \(spec.type.rawValue), not \(describe(value))") }
            } else if let fallback = spec.default {
                object[name] = fallback
            } else if spec.required {
                problems.append("missing required param `\(name)`")
            }
        }
        return problems.isEmpty ? .success(.object(object)) : .failure(Problems(problems))
    }

    public struct Problems: Error, Sendable, Hashable {
        public var messages: [String]
        init(_ messages: [String]) { self.messages = messages }
        public func joined(separator: String) -> String { messages.joined(separator: separator) }
    }

    /// What a value is, for a message: `the integer 5`, `a string`.
    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let b): "the boolean \(b)"
        case .int(let i): "the integer \(i)"
        case .double(let d): "the number \(d)"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    static func matches(_ value: JSONValue, _ kind: ParamSpec.Kind) -> Bool {
        switch (kind, value) {
        case (.string, .string), (.boolean, .bool), (.object, .object), (.array, .array), (.integer, .int): true
        case (.number, .int), (.number, .double): true
        case (.integer, .double(let d)): d.rounded() == d
        default: false
        }
    }
}
