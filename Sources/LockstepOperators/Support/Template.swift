import Foundation
import LockstepCore

/// Renders `{{ var.NAME }}`, `{{ conf.KEY }}`, `{{ run.logical_date }}`, `{{ run.id }}`, `{{ run.try_number }}`,
/// `{{ dag.id }}` and `{{ task.id }}` in string params.
///
/// Rendering happens here, inside the operator layer, so the params stored in specs and events stay
/// templates: a value resolved from config never travels further than the attempt that needed it.
public struct TemplateRenderer: Sendable {
    public var variables: [String: String]
    public var values: [String: String]
    /// The run configuration a trigger supplied, merged over the DAG's param defaults.
    public var conf: JSONValue
    /// Where the template came from, for error messages (`dag.task`).
    public var origin: String

    public init(_ context: OperatorContext) {
        variables = context.variables
        values = [
            "run.id": context.runID,
            "run.logical_date": Timestamp.iso(context.logicalDate),
            "run.try_number": String(context.tryNumber),
            "dag.id": context.dagID,
            "task.id": context.taskID,
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
        case .string(let s): return .string(try render(s))
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
            throw .config("task \(origin): unknown template expression `{{ \(expression) }}`; use var.NAME, conf.KEY, run.id, run.logical_date, run.try_number, dag.id or task.id")
        }
        return value
    }
}
