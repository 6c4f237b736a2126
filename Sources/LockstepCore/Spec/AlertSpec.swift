import Foundation

/// Telling people what happened to a run: Airflow's `email_on_failure` and Slack failure callbacks,
/// as a webhook that receives a JSON POST for the lifecycle events it names.
public struct AlertSpec: Sendable, Hashable {
    public var name: String
    /// An http(s) URL, or `{{ var.NAME }}` so that a secret URL (a Slack webhook) can come from
    /// `LOCKSTEP_VAR_NAME` instead of the file.
    public var url: String
    /// The lifecycle events that fire it.
    public var on: Set<LifecycleEvent.Kind>
    /// The DAGs it covers; empty covers every DAG.
    public var dags: Set<String>

    public init(name: String, url: String, on: Set<LifecycleEvent.Kind> = [.runFailed], dags: Set<String> = []) {
        self.name = name
        self.url = url
        self.on = on
        self.dags = dags
    }

    /// Whether a lifecycle event of `kind` for `dagID` fires this alert.
    public func fires(for kind: LifecycleEvent.Kind, dagID: String) -> Bool {
        on.contains(kind) && (dags.isEmpty || dags.contains(dagID))
    }

    /// Why an alert's URL cannot be used, and what would fix it.
    public struct URLProblem: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var fix: String
        public var description: String { "\(message); \(fix)" }
    }

    /// The URL to POST to: the literal, or the value of the variable `{{ var.NAME }}` names.
    public func webhookURL(variables: [String: String]) throws(URLProblem) -> URL {
        var text = url
        if let name = urlVariable {
            guard let value = variables[name] else {
                throw URLProblem(message: "the variable `\(name)` is not set", fix: "set LOCKSTEP_VAR_\(name) in the environment, or `\(name)` under variables")
            }
            text = value
        }
        guard let parsed = URL(string: text), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil else {
            throw URLProblem(
                message: "`\(Redacted.uri(text))` is not an http(s) URL",
                fix: "write an http(s) URL, or `{{ var.NAME }}` and set the variable (LOCKSTEP_VAR_NAME keeps a secret URL out of the file)")
        }
        return parsed
    }

    /// The variable a `{{ var.NAME }}` URL names, or nil for a literal URL.
    public var urlVariable: String? {
        let text = url.trimmingCharacters(in: .whitespaces)
        guard text.hasPrefix("{{"), text.hasSuffix("}}") else { return nil }
        let inner = text.dropFirst(2).dropLast(2).trimmingCharacters(in: .whitespaces)
        guard inner.hasPrefix("var."), inner.count > 4 else { return nil }
        return String(inner.dropFirst(4))
    }
}
