import Foundation

extension LockstepConfig {
    /// This config with overrides from the environment: `LOCKSTEP_VAR_<NAME>` sets variable `NAME`,
    /// `LOCKSTEP_CONN_<NAME>` sets the URI of connection `name` (lowercased, as DAG files spell it).
    /// `defaults` (what the loaded operator packs expect) fill the variables still missing afterwards.
    public func applyingEnvironment(_ env: [String: String], defaults: [String: String] = [:]) -> LockstepConfig {
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
        for (name, value) in defaults where copy.variables[name] == nil {
            copy.variables[name] = value
        }
        return copy
    }

    /// Connection URIs with their secrets removed, for display.
    public var redactedConnections: [String: String] { connections.mapValues(Redacted.uri) }
}
