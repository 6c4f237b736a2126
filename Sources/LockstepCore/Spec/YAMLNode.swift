import Foundation
import Yams

/// A YAML node with the file and key path it came from, so every complaint can say where it is.
/// Reading a key marks it as used; `rejectUnknownKeys` then names anything left over.
struct YAMLNode {
    let node: Node
    let file: String
    let path: String

    init(node: Node, file: String, path: String = "") {
        self.node = node
        self.file = file
        self.path = path
    }

    static func parse(_ text: String, file: String) throws(ConfigError) -> YAMLNode {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigError(file: file, keyPath: "", message: "the file is empty", fix: "declare the settings this file is for")
            }
            return YAMLNode(node: node, file: file)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(file: file, keyPath: "", message: "not valid YAML (\(error))", fix: "correct the YAML syntax at the place named")
        }
    }

    var line: Int? { node.mark?.line }

    func error(_ message: String, fix: String, at key: String? = nil) -> ConfigError {
        ConfigError(file: file, keyPath: key.map { child($0) } ?? path, line: line, message: message, fix: fix)
    }

    private func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    // MARK: Mappings

    func mapping() throws(ConfigError) -> [(key: String, value: YAMLNode)] {
        guard case .mapping(let m) = node else {
            throw error("expected a mapping of keys to values", fix: "write `key: value` lines here")
        }
        var out: [(String, YAMLNode)] = []
        for (k, v) in m {
            guard case .scalar(let s) = k else {
                throw error("a key is not a plain name", fix: "use plain text keys")
            }
            out.append((s.string, YAMLNode(node: v, file: file, path: child(s.string))))
        }
        return out
    }

    /// Fails on the first key that is not in `allowed`, suggesting the closest allowed one.
    func rejectUnknownKeys(_ allowed: [String]) throws(ConfigError) {
        for (key, value) in try mapping() where !allowed.contains(key) {
            let suggestion = allowed.min { editDistance($0, key) < editDistance($1, key) }
            let fix = suggestion.flatMap { editDistance($0, key) <= 3 ? "did you mean `\($0)`? " : nil } ?? ""
            throw ConfigError(
                file: file, keyPath: value.path, line: value.line, message: "unknown key `\(key)`",
                fix: "\(fix)allowed keys here: \(allowed.joined(separator: ", "))")
        }
    }

    func optional(_ key: String) throws(ConfigError) -> YAMLNode? {
        guard case .mapping(let m) = node else {
            throw error("expected a mapping of keys to values", fix: "write `key: value` lines here")
        }
        guard let value = m[key] else { return nil }
        if case .scalar(let s) = value, s.tag == Tag(.null) || (s.string.isEmpty && s.style == .plain) { return nil }
        return YAMLNode(node: value, file: file, path: child(key))
    }

    func required(_ key: String, fix: String) throws(ConfigError) -> YAMLNode {
        guard let value = try optional(key) else {
            throw error("missing required key `\(key)`", fix: fix, at: key)
        }
        return value
    }

    // MARK: Scalars

    func string() throws(ConfigError) -> String {
        guard case .scalar(let s) = node else { throw error("expected text", fix: "write a single value here") }
        return s.string
    }

    func int(min: Int = Int.min) throws(ConfigError) -> Int {
        guard case .scalar(let s) = node, let value = Int(s.string) else {
            throw error("expected a whole number", fix: "write a number such as 1 or 2")
        }
        guard value >= min else { throw error("must be at least \(min), not \(value)", fix: "use a value of \(min) or more") }
        return value
    }

    func bool() throws(ConfigError) -> Bool {
        guard case .scalar(let s) = node else { throw error("expected true or false", fix: "write true or false") }
        switch s.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, not `\(s.string)`", fix: "write true or false")
        }
    }

    func duration() throws(ConfigError) -> Duration {
        let text = try string()
        guard let d = DurationText.parse(text) else {
            throw error("`\(text)` is not a duration", fix: "write a duration such as 30s, 5m, 1h30m or 500ms")
        }
        return d
    }

    func date() throws(ConfigError) -> Date {
        let text = try string()
        if let d = ISO8601.parse(text) { return d }
        throw error("`\(text)` is not a date", fix: "write an ISO 8601 date such as 2025-09-18 or 2025-09-18T02:00:00Z")
    }

    func strings() throws(ConfigError) -> [String] {
        if case .scalar = node { return [try string()] }
        guard case .sequence(let seq) = node else { throw error("expected a list", fix: "write a list such as [a, b]") }
        var out: [String] = []
        for (i, item) in seq.enumerated() {
            out.append(try YAMLNode(node: item, file: file, path: "\(path)[\(i)]").string())
        }
        return out
    }

    func sequence() throws(ConfigError) -> [YAMLNode] {
        guard case .sequence(let seq) = node else { throw error("expected a list", fix: "write a list of items, each starting with `- `") }
        return seq.enumerated().map { YAMLNode(node: $1, file: file, path: "\(path)[\($0)]") }
    }

    /// Any YAML value as JSON: plain scalars keep YAML's types (numbers, booleans, null).
    func json() throws(ConfigError) -> JSONValue {
        switch node {
        case .scalar(let s):
            if s.style != .plain { return .string(s.string) }
            switch node.tag {
            case Tag(.null): return .null
            case Tag(.bool): return .bool(try bool())
            case Tag(.int): if let i = Int64(s.string) { return .int(i) }
            case Tag(.float): if let d = Double(s.string) { return .double(d) }
            default: break
            }
            return .string(s.string)
        case .sequence:
            var items: [JSONValue] = []
            for item in try sequence() { items.append(try item.json()) }
            return .array(items)
        case .mapping:
            var object: [String: JSONValue] = [:]
            for (key, value) in try mapping() { object[key] = try value.json() }
            return .object(object)
        case .alias:
            throw error("YAML aliases are not supported here", fix: "write the value out in full")
        }
    }
}

private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
