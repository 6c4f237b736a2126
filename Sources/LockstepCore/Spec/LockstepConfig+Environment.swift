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
    public var redactedConnections: [String: String] { connections.mapValues(Self.redacted) }

    /// A URI safe to log: `scheme://user@host:port/path`, without password, query or fragment (a query
    /// may carry `password=` or a token). A string that is not a URI shows as `<redacted>`.
    public static func redacted(_ uri: String) -> String {
        guard let schemeEnd = uri.range(of: "://") else { return "<redacted>" }
        let scheme = uri[..<schemeEnd.lowerBound]
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) else {
            return "<redacted>"
        }
        var rest = uri[schemeEnd.upperBound...]
        if let cut = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<cut] }
        // The last `@` ends the userinfo: an unencoded `@` or `/` inside a password must not leak its tail.
        var user: Substring = ""
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            user = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            if user.contains("/") { user = "" }
            rest = rest[rest.index(after: at)...]
        }
        let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let host = rest[..<hostEnd]
        let path = rest[hostEnd...]
        return "\(scheme)://\(user.isEmpty ? "" : "\(user)@")\(host)\(path)"
    }
}
