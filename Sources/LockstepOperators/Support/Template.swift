import Foundation
import LockstepCore

/// Renders `{{ var.NAME }}`, `{{ conn.NAME }}`, `{{ conf.KEY }}`, `{{ upstream.TASK.FIELD }}`,
/// `{{ run.logical_date }}`, `{{ run.id }}`, `{{ run.try_number }}`, `{{ dag.id }}` and `{{ task.id }}` in
/// string params.
///
/// Rendering happens here, inside the operator layer, so the params stored in specs and events stay
/// templates: a value resolved from config never travels further than the attempt that needed it.
/// A param that is one `{{ upstream.… }}` expression and nothing else keeps the upstream value's JSON
/// type (a number stays a number in an HTTP body, a null binds SQL NULL); inside longer text it is text.
public struct TemplateRenderer: Sendable {
    public var variables: [String: String]
    /// Connection id → URI: `{{ conn.NAME }}` hands the URI over (e.g. to a program's environment).
    public var connections: [String: String]
    /// Outputs of the ancestor tasks, by task id.
    public var upstream: [String: JSONValue]
    public var values: [String: String]
    /// The run configuration a trigger supplied, merged over the DAG's param defaults.
    public var conf: JSONValue
    /// Where the template came from, for error messages (`dag.task`).
    public var origin: String

    public init(_ context: OperatorContext) {
        variables = context.variables
        connections = context.connections
        upstream = context.upstream
        values = [
            "run.id": context.runID,
            "run.logical_date": Timestamp.iso(context.logicalDate),
            "run.try_number": String(context.tryNumber),
            "dag.id": context.dagID,
            "task.id": context.taskID,
            // The worker's data directory (`--data-dir`): where artifacts such as trained models go.
            "lockstep.data_dir": context.dataDirectory.path,
        ]
        conf = context.conf
        origin = "\(context.dagID).\(context.taskID)"
    }

    public func render(_ text: String) throws(OperatorError) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw .config("task \(origin): unterminated `{{` in a param template")
            }
            let expression = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            out += try resolve(expression)
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    public func render(_ value: JSONValue) throws(OperatorError) -> JSONValue {
        switch value {
        case .string(let s):
            if let expression = Self.soleExpression(s), expression.hasPrefix("upstream.") {
                return try upstreamValue(expression)
            }
            return .string(try render(s))
        case .array(let a):
            var rendered: [JSONValue] = []
            for element in a { rendered.append(try render(element)) }
            return .array(rendered)
        case .object(let o):
            var rendered: [String: JSONValue] = [:]
            for (key, element) in o { rendered[key] = try render(element) }
            return .object(rendered)
        default: return value
        }
    }

    private func resolve(_ expression: String) throws(OperatorError) -> String {
        if expression.hasPrefix("conn.") {
            let name = String(expression.dropFirst(5))
            guard let uri = connections[name] else {
                throw .config("task \(origin): unknown connection `\(name)` in `{{ conn.\(name) }}`; set it under connections "
                    + "in lockstep.yaml or as LOCKSTEP_CONN_\(name.uppercased())")
            }
            return uri
        }
        if expression.hasPrefix("upstream.") {
            let value = try upstreamValue(expression)
            return value.stringValue ?? value.canonicalJSON()
        }
        if expression.hasPrefix("var.") {
            let name = String(expression.dropFirst(4))
            guard let value = variables[name] else {
                throw .config("task \(origin): unknown variable `\(name)`; set it under variables in lockstep.yaml or as LOCKSTEP_VAR_\(name)")
            }
            return value
        }
        if expression.hasPrefix("conf.") {
            let key = String(expression.dropFirst(5))
            guard let value = conf[key], value != .null else {
                throw .config("task \(origin): the run configuration has no `\(key)`; pass it with the trigger or give the DAG param a default")
            }
            return value.stringValue ?? value.canonicalJSON()
        }
        guard let value = values[expression] else {
            throw .config("task \(origin): unknown template expression `{{ \(expression) }}`; use var.NAME, conn.NAME, conf.KEY, upstream.TASK.FIELD, run.id, run.logical_date, run.try_number, dag.id, task.id or lockstep.data_dir")
        }
        return value
    }

    /// The expression when `text` is exactly one `{{ … }}` with nothing around it.
    static func soleExpression(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("{{"), trimmed.hasSuffix("}}"), trimmed.count >= 4 else { return nil }
        let inner = trimmed.dropFirst(2).dropLast(2)
        guard !inner.contains("{{"), !inner.contains("}}") else { return nil }
        return inner.trimmingCharacters(in: .whitespaces)
    }

    /// `upstream.TASK` (the whole output) or `upstream.TASK.a.b` (a field, dotted into nested objects;
    /// a number indexes a list). Task ids may themselves hold dots: the longest id that matches wins.
    private func upstreamValue(_ expression: String) throws(OperatorError) -> JSONValue {
        let path = String(expression.dropFirst("upstream.".count))
        guard let task = upstream.keys.sorted(by: { $0.count > $1.count })
            .first(where: { path == $0 || path.hasPrefix($0 + ".") }), let output = upstream[task]
        else {
            let known = upstream.keys.sorted()
            throw .input("task \(origin): `{{ \(expression) }}` names no upstream task with an output"
                + (known.isEmpty ? "; this task has no upstream outputs (declare the task under `upstream:`)"
                    : "; upstream outputs: \(known.joined(separator: ", "))"))
        }
        var value = output
        var walked = task
        for field in path.dropFirst(task.count).split(separator: ".", omittingEmptySubsequences: false).dropFirst() {
            let key = String(field)
            let next: JSONValue? = switch value {
            case .object(let o): o[key]
            case .array(let a): Int(key).flatMap { $0 >= 0 && $0 < a.count ? a[$0] : nil }
            default: nil
            }
            guard let next else {
                throw .input("task \(origin): the output of upstream task `\(task)` has no `\(key)` at `\(walked)`; "
                    + "it has: \(value.objectValue.map { $0.keys.sorted().joined(separator: ", ") } ?? value.canonicalJSON().prefix(200).description)")
            }
            walked += ".\(key)"
            value = next
        }
        return value
    }
}
