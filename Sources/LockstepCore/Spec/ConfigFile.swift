/// Reads `config/lockstep.yaml`: operator packs, pools, variables, connections and alerts shared by every DAG.
enum ConfigFile {
    static let keys = ["packs", "pools", "variables", "connections", "alerts", "otlp_endpoint", "dispatch_window"]

    static func parse(_ text: String, file: String) throws(ConfigError) -> LockstepConfig {
        let root = try YAMLNode.parse(text, file: file)
        try root.rejectUnknownKeys(keys)
        var config = LockstepConfig()
        if let packs = try root.optional("packs") { config.packs = try packs.strings() }
        if let pools = try root.optional("pools") {
            for (name, node) in try pools.mapping() {
                try node.rejectUnknownKeys(["slots", "description"])
                let slots = try node.required("slots", fix: "say how many tasks may hold the pool at once, e.g. `slots: 2`").int(min: 1)
                config.pools[name] = PoolSpec(slots: slots, description: try node.optional("description")?.string() ?? "")
            }
        }
        if let variables = try root.optional("variables") {
            for (name, node) in try variables.mapping() { config.variables[name] = try node.string() }
        }
        if let connections = try root.optional("connections") {
            for (name, node) in try connections.mapping() {
                let uri = try node.string()
                guard uri.contains("://") else {
                    throw node.error("`\(uri)` is not a connection URI", fix: "write a URI such as postgresql://user@host:5432/dbname")
                }
                config.connections[name] = uri
            }
        }
        if let alerts = try root.optional("alerts") {
            for (name, node) in try alerts.mapping() { config.alerts.append(try alert(name, node)) }
        }
        if let endpoint = try root.optional("otlp_endpoint") {
            let text = try endpoint.string()
            do { config.otlpTracesEndpoint = try LockstepConfig.tracesURL(text, appendPath: true, key: "otlp_endpoint", file: file) } catch {
                throw endpoint.error(error.message, fix: error.fix)
            }
        }
        if let window = try root.optional("dispatch_window") { config.dispatchWindow = try window.int(min: 1) }
        return config
    }

    private static func alert(_ name: String, _ node: YAMLNode) throws(ConfigError) -> AlertSpec {
        try node.rejectUnknownKeys(["url", "on", "dags"])
        let urlNode = try node.required("url", fix: "give the webhook to POST to, e.g. `url: \"{{ var.SLACK_WEBHOOK_URL }}\"`")
        var spec = AlertSpec(name: name, url: try urlNode.string())
        // A literal URL is checked here; one from a variable once the environment is applied (`validateAlerts`).
        if spec.urlVariable == nil {
            do { _ = try spec.webhookURL(variables: [:]) } catch { throw urlNode.error(error.message, fix: error.fix) }
        }
        if let onNode = try node.optional("on") {
            var kinds: Set<LifecycleEvent.Kind> = []
            for text in try onNode.strings() {
                guard let kind = LifecycleEvent.Kind(rawValue: text) else {
                    throw onNode.error(
                        "unknown lifecycle event `\(text)`",
                        fix: "use some of \(LifecycleEvent.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                kinds.insert(kind)
            }
            guard !kinds.isEmpty else { throw onNode.error("an alert needs at least one event", fix: "e.g. `on: [run.failed]`") }
            spec.on = kinds
        }
        spec.dags = Set(try node.optional("dags")?.strings() ?? [])
        return spec
    }
}
