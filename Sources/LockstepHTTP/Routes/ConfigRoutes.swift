import Foundation
import Hummingbird
import LockstepCore

/// Airflow's Admin > Pools, Variables and Connections, read-only: they are declared in
/// `lockstep.yaml` and the environment, so the answer says where each value comes from. Secrets are
/// never shown: connection URIs through `Redacted.uri`, variables with secret-sounding names masked.
struct ConfigRoutes {
    let env: APIEnvironment

    func register(_ routes: RouteTable) {
        routes.add(.get, "/api/v1/pools", role: .viewer, action: "reading pools") { request, _, _ in
            let page = try Page(request)
            let usage = try await env.poolUsage()
            let pools = env.runtime.config.pools.keys.sorted().map { name -> JSONValue in
                let spec = env.runtime.config.pools[name]!
                let (used, queued) = usage[name] ?? (0, 0)
                var o = JSONFields()
                o.set("name", name)
                o.set("slots", spec.slots)
                o.set("occupied_slots", used)
                o.set("queued_slots", queued)
                o.set("open_slots", max(0, spec.slots - used))
                o.set("description", spec.description.isEmpty ? nil : spec.description)
                return o.json
            }
            let (items, next) = page.slice(pools)
            return env.json.response(["pools": .array(Array(items)), "next_cursor": next.map(JSONValue.string) ?? .null])
        }
        routes.add(.get, "/api/v1/variables", role: .op, action: "reading variables") { request, _, _ in
            let page = try Page(request)
            let vars = env.runtime.config.variables.keys.sorted().map { name -> JSONValue in
                let value = env.runtime.config.variables[name]!
                let secret = Self.looksSecret(name)
                var o = JSONFields()
                o.set("key", name)
                o.set("value", secret ? "***" : (value.contains("://") ? Redacted.uri(value) : value))
                o.set("is_masked", secret || (value.contains("://") && Redacted.uri(value) != value))
                o.set("source", source(env: "LOCKSTEP_VAR_\(name)", inFile: env.fileConfig?.variables[name] != nil))
                return o.json
            }
            let (items, next) = page.slice(vars)
            return env.json.response(["variables": .array(Array(items)), "next_cursor": next.map(JSONValue.string) ?? .null])
        }
        routes.add(.get, "/api/v1/connections", role: .op, action: "reading connections") { request, _, _ in
            let page = try Page(request)
            let conns = env.runtime.config.connections.keys.sorted().map { name -> JSONValue in
                let uri = env.runtime.config.connections[name]!
                let parts = URLComponents(string: uri)
                var o = JSONFields()
                o.set("connection_id", name)
                o.set("conn_type", parts?.scheme)
                o.set("host", parts?.host)
                o.set("port", parts?.port)
                o.set("login", parts?.user)
                o.set("schema", parts.map { String($0.path.drop(while: { $0 == "/" })) }.flatMap { $0.isEmpty ? nil : $0 })
                o.set("uri", Redacted.uri(uri))
                o.set("has_password", parts?.password != nil)
                o.set("source", source(env: "LOCKSTEP_CONN_\(name.uppercased())", inFile: env.fileConfig?.connections[name] != nil))
                return o.json
            }
            let (items, next) = page.slice(conns)
            return env.json.response(["connections": .array(Array(items)), "next_cursor": next.map(JSONValue.string) ?? .null])
        }
    }

    /// Airflow masks variables whose names say they hold a secret; so does Lockstep.
    static func looksSecret(_ name: String) -> Bool {
        let lower = name.lowercased()
        return ["password", "passwd", "secret", "token", "api_key", "apikey", "private_key", "credential", "webhook"].contains { lower.contains($0) }
    }

    private func source(env name: String, inFile: Bool) -> String {
        if env.environment[name] != nil { return "environment \(name)" }
        if inFile { return "config file" }
        return env.fileConfig == nil ? "config" : "operator pack default"
    }
}
