import CRdKafka
import LockstepBus

/// A failure reported by librdkafka or by the broker, with its code and what the bus was doing.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The `rd_kafka_resp_err_t` value: negative for client-side errors, positive for broker error codes.
    public var code: Int32
    /// librdkafka's symbolic name, e.g. `_TRANSPORT`, `TOPIC_ALREADY_EXISTS`.
    public var name: String
    public var message: String
    /// The client cannot continue (e.g. an idempotent producer fenced); it must be recreated.
    public var isFatal: Bool
    /// Trying the same call again later may succeed (broker down, leader moving, timeout).
    public var isRetriable: Bool
    /// What was being done, with the names needed to act on it (topic, group, bootstrap servers).
    public var context: String

    public init(code: Int32, name: String, message: String, isFatal: Bool, isRetriable: Bool, context: String) {
        self.code = code
        self.name = name
        self.message = message
        self.isFatal = isFatal
        self.isRetriable = isRetriable
        self.context = context
    }

    init(_ err: rd_kafka_resp_err_t, message: String? = nil, context: String, isFatal: Bool = false) {
        self.init(
            code: err.rawValue, name: String(cString: rd_kafka_err2name(err)),
            message: message ?? String(cString: rd_kafka_err2str(err)),
            isFatal: isFatal, isRetriable: !isFatal && Self.retriableCodes.contains(err), context: context)
    }

    /// Takes ownership of an `rd_kafka_error_t` (destroying it), which knows its own fatal/retriable flags.
    init(consuming error: OpaquePointer, context: String) {
        defer { rd_kafka_error_destroy(error) }
        self.init(
            code: rd_kafka_error_code(error).rawValue, name: String(cString: rd_kafka_error_name(error)),
            message: String(cString: rd_kafka_error_string(error)),
            isFatal: rd_kafka_error_is_fatal(error) != 0, isRetriable: rd_kafka_error_is_retriable(error) != 0,
            context: context)
    }

    public var description: String {
        var text = "Kafka error \(name) (\(code)) while \(context): \(message)"
        if isFatal { text += " [fatal: recreate the client]" } else if isRetriable { text += " [retriable]" }
        return text
    }

    /// Errors that describe a passing condition of the cluster or the network, not a mistake in the call.
    static let retriableCodes: Set<rd_kafka_resp_err_t> = [
        RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__TIMED_OUT,
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__WAIT_COORD,
        RD_KAFKA_RESP_ERR__RESOLVE, RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE, RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
        RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR,
        RD_KAFKA_RESP_ERR_FETCH_SESSION_ID_NOT_FOUND, RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE,
    ]
}

/// A mistake in how the bus is set up: caught before talking to any broker.
public enum KafkaSetupError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The loaded librdkafka is too old (see `KafkaVersion`).
    case unsupportedLibrary(loaded: String, required: String, path: String?)
    /// A `kafka://` URL that cannot be read.
    case invalidURL(String, reason: String)
    /// librdkafka refused a property (unknown name or bad value).
    case invalidProperty(name: String, reason: String)
    case noBootstrapServers

    public var description: String {
        switch self {
        case let .unsupportedLibrary(loaded, required, path):
            return "librdkafka \(loaded) is loaded\(path.map { " from \($0)" } ?? "") but Lockstep needs \(required) or newer "
                + "(an older system copy shares the soname): run scripts/install-deps.sh, or put the newer library "
                + "first with LD_LIBRARY_PATH=/usr/local/lib"
        case let .invalidURL(url, reason):
            return "invalid Kafka URL '\(url)': \(reason) (expected kafka://host:port[,host:port][?property=value&…])"
        case let .invalidProperty(name, reason):
            return "librdkafka rejected property '\(name)': \(reason)"
        case .noBootstrapServers:
            return "no Kafka bootstrap servers: give kafka://host:port or set LOCKSTEP_KAFKA_BOOTSTRAP_SERVERS"
        }
    }
}

/// Components retry what a passing condition of the cluster failed, and stop on the rest: a fatal
/// error needs a new client, and the process restarting is how it gets one.
extension KafkaError: RetryableError {
    public var isRetryable: Bool { isRetriable && !isFatal }
}
