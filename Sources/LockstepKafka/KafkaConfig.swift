import Foundation

/// Where the Kafka cluster is and any librdkafka properties to pass through (security, timeouts, tuning).
///
/// Sources, later ones winning: `kafka://host:port[,host:port]?property=value` URLs, configuration files,
/// and `LOCKSTEP_KAFKA_<PROPERTY>` environment variables with dots written as underscores
/// (`LOCKSTEP_KAFKA_SASL_PASSWORD` → `sasl.password`). `description` never shows secret values.
public struct KafkaConfig: Sendable, Hashable, CustomStringConvertible {
    /// `host:port` of brokers to bootstrap from; the cluster's metadata names the rest.
    public var bootstrapServers: [String]
    /// Any librdkafka configuration property (CONFIGURATION.md), passed through unchanged.
    public var properties: [String: String]
    /// How long a metadata or admin call (create/list topics, committed offsets, open a reader) may take.
    public var requestTimeout: Duration
    /// How many fetched records a consumer hands over ahead of its reader; beyond that they wait in
    /// librdkafka's queue (see `KafkaConsumerLoop`).
    public var consumerBufferCapacity: Int

    public init(
        bootstrapServers: [String], properties: [String: String] = [:], requestTimeout: Duration = .seconds(30),
        consumerBufferCapacity: Int = 1000
    ) {
        self.bootstrapServers = bootstrapServers
        self.properties = properties
        self.requestTimeout = requestTimeout
        self.consumerBufferCapacity = consumerBufferCapacity
    }

    /// Reads `kafka://host:port[,host:port][?property=value&…]` (the CLI's `--bus`).
    public init(url: String) throws {
        let prefix = "kafka://"
        guard url.lowercased().hasPrefix(prefix) else { throw KafkaSetupError.invalidURL(url, reason: "scheme is not kafka") }
        let rest = url.dropFirst(prefix.count)
        let hostPart = rest.prefix { $0 != "?" && $0 != "/" }
        var query = rest.dropFirst(hostPart.count)
        if query.hasPrefix("/") { query = query.drop { $0 == "/" } }
        let servers = hostPart.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !servers.isEmpty else { throw KafkaSetupError.invalidURL(url, reason: "no host:port") }
        for server in servers {
            guard let colon = server.lastIndex(of: ":"), Int(server[server.index(after: colon)...]) != nil else {
                throw KafkaSetupError.invalidURL(url, reason: "'\(server)' has no port")
            }
        }
        var properties: [String: String] = [:]
        if query.hasPrefix("?") {
            for pair in query.dropFirst().split(separator: "&") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, let name = parts[0].removingPercentEncoding,
                      let value = parts[1].removingPercentEncoding, !name.isEmpty
                else { throw KafkaSetupError.invalidURL(url, reason: "'\(pair)' is not property=value") }
                properties[name] = value
            }
        }
        self.init(bootstrapServers: servers, properties: properties)
    }

    /// The prefix of environment variables that set librdkafka properties.
    public static let environmentPrefix = "LOCKSTEP_KAFKA_"

    /// Applies `LOCKSTEP_KAFKA_*` variables: `LOCKSTEP_KAFKA_BOOTSTRAP_SERVERS` replaces the servers
    /// (comma-separated), every other one sets the property named by the rest of the variable.
    public func applying(environment: [String: String] = ProcessInfo.processInfo.environment) -> KafkaConfig {
        var config = self
        for (variable, value) in environment where variable.hasPrefix(Self.environmentPrefix) {
            let property = Self.propertyName(forEnvironmentVariable: variable)
            if property == "bootstrap.servers" {
                config.bootstrapServers = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            } else if !property.isEmpty {
                config.properties[property] = value
            }
        }
        return config
    }

    /// `LOCKSTEP_KAFKA_SSL_CA_LOCATION` → `ssl.ca.location`.
    public static func propertyName(forEnvironmentVariable variable: String) -> String {
        variable.dropFirst(environmentPrefix.count).lowercased().replacingOccurrences(of: "_", with: ".")
    }

    /// A config from the environment alone (`LOCKSTEP_KAFKA_BOOTSTRAP_SERVERS` and properties).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> KafkaConfig {
        let config = KafkaConfig(bootstrapServers: []).applying(environment: environment)
        guard !config.bootstrapServers.isEmpty else { throw KafkaSetupError.noBootstrapServers }
        return config
    }

    /// Comma-separated, as librdkafka wants them and as errors name them.
    public var bootstrapServersList: String { bootstrapServers.joined(separator: ",") }

    /// Properties whose values must never reach a log line, an error or a UI.
    public static func isSecret(_ property: String) -> Bool {
        let name = property.lowercased()
        return ["password", "secret", "sasl.oauthbearer.config", "ssl.key.pem", "ssl.keystore", "token"]
            .contains { name.contains($0) }
    }

    /// The properties with secret values masked, for logs.
    public var redactedProperties: [String: String] {
        properties.reduce(into: [:]) { $0[$1.key] = Self.isSecret($1.key) ? "*****" : $1.value }
    }

    public var description: String {
        let props = redactedProperties.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "KafkaConfig(bootstrap: \(bootstrapServersList)\(props.isEmpty ? "" : "; \(props)"))"
    }
}

/// librdkafka properties every Lockstep consumer starts from; a user's properties override them.
public enum KafkaConsumerDefaults {
    /// `fetch.queue.backoff.ms` (librdkafka default 1000): once librdkafka's local queue passes
    /// `queued.min.messages`, the next fetch waits this long. A consumer that then drains the queue
    /// quickly sits idle for the rest of it: a bulk read stalled for a second every ~150,000 records
    /// (measured with `lockstep-bench kafka`); 50 ms keeps the fetcher ahead at a negligible cost.
    public static let properties = ["fetch.queue.backoff.ms": "50"]
}
