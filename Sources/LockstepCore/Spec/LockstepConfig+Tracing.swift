import Foundation

/// Where spans go: an OTLP/HTTP collector, named by `otlp_endpoint` in `lockstep.yaml` or by the
/// OpenTelemetry SDK's own variables, which win (as every OpenTelemetry SDK lets them).
extension LockstepConfig {
    /// The OpenTelemetry variable naming the traces URL itself, used as given.
    public static let tracesEndpointVariable = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    /// The OpenTelemetry variable naming the collector's base URL; `/v1/traces` is appended.
    public static let endpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT"

    /// This config with the OTLP variables of `env` applied; a variable that is not an http(s) URL is
    /// refused, naming it and the fix.
    public func applyingTraceEnvironment(_ env: [String: String]) throws(ConfigError) -> LockstepConfig {
        var copy = self
        if let value = env[Self.tracesEndpointVariable], !value.isEmpty {
            copy.otlpTracesEndpoint = try Self.tracesURL(value, appendPath: false, key: Self.tracesEndpointVariable, file: "environment")
        } else if let value = env[Self.endpointVariable], !value.isEmpty {
            copy.otlpTracesEndpoint = try Self.tracesURL(value, appendPath: true, key: Self.endpointVariable, file: "environment")
        }
        return copy
    }

    /// The traces URL for a collector URL: `base` + `/v1/traces` (unless it already ends so) when
    /// `appendPath`, else `base` as it is; refused unless it is an http(s) URL with a host.
    public static func tracesURL(_ text: String, appendPath: Bool, key: String, file: String) throws(ConfigError) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty, url.query == nil
        else {
            throw ConfigError(
                file: file, keyPath: key, message: "`\(Redacted.uri(trimmed))` is not an http(s) URL of an OTLP/HTTP collector",
                fix: "give the collector's OTLP/HTTP address, e.g. http://localhost:4318 (spans go to its /v1/traces), or leave it out to export no spans")
        }
        guard appendPath, !url.path.hasSuffix("/v1/traces") else { return trimmed }
        return (trimmed.hasSuffix("/") ? String(trimmed.dropLast()) : trimmed) + "/v1/traces"
    }
}
