/// Reads `config/lockstep.yaml`: pools, variables and connections shared by every DAG.
enum ConfigFile {
    static let keys = ["pools", "variables", "connections"]

    static func parse(_ text: String, file: String) throws(ConfigError) -> LockstepConfig {
        let root = try YAMLNode.parse(text, file: file)
        try root.rejectUnknownKeys(keys)
        var config = LockstepConfig()
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
        return config
    }
}
