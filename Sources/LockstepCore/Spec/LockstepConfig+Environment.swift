import Foundation

extension LockstepConfig {
    /// Defaults the seed's Airflow variables had, used when neither the config file nor the
    /// environment sets them (localhost instead of `host.docker.internal`: Lockstep runs on the host).
    public static let seedVariableDefaults: [String: String] = [
        "FASTAPI_BASE_URL": "http://localhost:8010",
        "NODEJS_BASE_URL": "http://localhost:3030",
    ]

    /// This config with overrides from the environment: `LOCKSTEP_VAR_<NAME>` sets variable `NAME`,
    /// `LOCKSTEP_CONN_<NAME>` sets the URI of connection `name` (lowercased, as DAG files spell it).
    /// Seed defaults fill the variables still missing afterwards.
    public func applyingEnvironment(_ env: [String: String]) -> LockstepConfig {
        var copy = self
        for (key, value) in env {
            if key.hasPrefix("LOCKSTEP_VAR_") {
                let name = String(key.dropFirst("LOCKSTEP_VAR_".count))
                if !name.isEmpty { copy.variables[name] = value }
            } else if key.hasPrefix("LOCKSTEP_CONN_") {
                let name = String(key.dropFirst("LOCKSTEP_CONN_".count)).lowercased()
                if !name.isEmpty { copy.connections[name] = value }
            }
        }
        for (name, value) in Self.seedVariableDefaults where copy.variables[name] == nil {
            copy.variables[name] = value
        }
        return copy
    }

    /// Connection URIs with their secrets removed, for display.
    public var redactedConnections: [String: String] { connections.mapValues(Redacted.uri) }
}
