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

    /// The variable a `{{ var.NAME }}` URL names, or nil for a literal URL.
    public var urlVariable: String? {
        let text = url.trimmingCharacters(in: .whitespaces)
        guard text.hasPrefix("{{"), text.hasSuffix("}}") else { return nil }
        let inner = text.dropFirst(2).dropLast(2).trimmingCharacters(in: .whitespaces)
        guard inner.hasPrefix("var."), inner.count > 4 else { return nil }
        return String(inner.dropFirst(4))
    }
}
