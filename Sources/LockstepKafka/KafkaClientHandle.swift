import CRdKafka
import Foundation
import Logging

/// The object librdkafka's C callbacks reach through the handle's opaque pointer.
///
/// C callbacks cannot capture Swift state, so every handle is created with `rd_kafka_conf_set_opaque`
/// pointing at one of these (unretained: the owner keeps it alive until after `rd_kafka_destroy`).
/// Subclasses add the producer's delivery reports or the consumer's rebalances; logging and error
/// reporting are shared here.
class KafkaCallbackContext: @unchecked Sendable {
    // Safe to share: `logger` and `servers` are immutable; `fatal` is guarded by `fatalLock`.
    let logger: Logger
    let servers: String
    private let fatalLock = NSLock()
    private var fatal: KafkaError?

    init(logger: Logger, servers: String) {
        self.logger = logger
        self.servers = servers
    }

    /// A fatal error the handle reported; every later call on it fails with this.
    var fatalError: KafkaError? {
        fatalLock.lock()
        defer { fatalLock.unlock() }
        return fatal
    }

    func recordFatal(_ error: KafkaError) {
        fatalLock.lock()
        if fatal == nil { fatal = error }
        fatalLock.unlock()
    }

    var opaque: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> KafkaCallbackContext? {
        opaque.map { Unmanaged<KafkaCallbackContext>.fromOpaque($0).takeUnretainedValue() }
    }
}

/// Creates librdkafka handles from a `KafkaConfig` plus the settings the bus itself depends on.
enum KafkaClientHandle {
    /// librdkafka's own retries handle a broker that is down; this only has to say which servers.
    static func create(
        type: rd_kafka_type_t, config: KafkaConfig, defaults: [String: String], required: [String: String],
        context: KafkaCallbackContext, configure: (OpaquePointer) -> Void = { _ in }
    ) throws -> OpaquePointer {
        try KafkaVersion.check()
        guard !config.bootstrapServers.isEmpty else { throw KafkaSetupError.noBootstrapServers }
        guard let conf = rd_kafka_conf_new() else { throw KafkaSetupError.invalidProperty(name: "-", reason: "out of memory") }
        var settings = defaults
        settings.merge(config.properties) { _, user in user }
        settings.merge(required) { _, bus in bus }
        settings["bootstrap.servers"] = config.bootstrapServersList
        do {
            for (name, value) in settings.sorted(by: { $0.key < $1.key }) {
                try set(conf, name, value)
            }
        } catch {
            rd_kafka_conf_destroy(conf)
            throw error
        }
        rd_kafka_conf_set_opaque(conf, context.opaque)
        rd_kafka_conf_set_log_cb(conf, logCallback)
        rd_kafka_conf_set_error_cb(conf, errorCallback)
        configure(conf)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaSetupError.invalidProperty(name: "-", reason: String(errorBuffer: errstr))
        }
        return handle
    }

    private static func set(_ conf: OpaquePointer, _ name: String, _ value: String) throws {
        var errstr = [CChar](repeating: 0, count: 512)
        guard rd_kafka_conf_set(conf, name, value, &errstr, errstr.count) == RD_KAFKA_CONF_OK else {
            // librdkafka's message quotes the value; a rejected password must not end up in a log.
            let reason = KafkaConfig.isSecret(name) ? "invalid value (hidden)" : String(errorBuffer: errstr)
            throw KafkaSetupError.invalidProperty(name: name, reason: reason)
        }
    }

    /// An `rd_kafka_resp_err_t` that aborts the client, with librdkafka's reason for it.
    static func fatalError(_ handle: OpaquePointer, context: String) -> KafkaError {
        var reason = [CChar](repeating: 0, count: 512)
        let code = rd_kafka_fatal_error(handle, &reason, reason.count)
        return KafkaError(code, message: String(errorBuffer: reason), context: context, isFatal: true)
    }
}

private let logCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
    handle, level, facility, message in
    guard let handle, let context = KafkaCallbackContext.from(rd_kafka_opaque(handle)) else { return }
    let facility = facility.map { String(cString: $0) } ?? ""
    let text = message.map { String(cString: $0) } ?? ""
    // Consumer-only properties on the producer (and the reverse) are expected: one config feeds both.
    let swiftLevel: Logger.Level =
        switch level {
        case ...3: .error
        case 4: facility == "CONFWARN" ? .debug : .warning
        case 5, 6: .info
        default: .debug
        }
    context.logger.log(level: swiftLevel, "\(text)", metadata: ["rdkafka": "\(facility)", "bootstrap": "\(context.servers)"])
}

private let errorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    handle, code, reason, opaque in
    guard let handle, let context = KafkaCallbackContext.from(opaque) else { return }
    let err = rd_kafka_resp_err_t(rawValue: code)
    if err == RD_KAFKA_RESP_ERR__FATAL {
        let fatal = KafkaClientHandle.fatalError(handle, context: "talking to \(context.servers)")
        context.recordFatal(fatal)
        context.logger.error("\(fatal)")
        return
    }
    // Broker-down and similar errors are reported here and retried by librdkafka itself; they are not
    // turned into failures of the calls in flight (those fail by their own timeouts).
    let text = reason.map { String(cString: $0) } ?? ""
    context.logger.warning(
        "Kafka \(String(cString: rd_kafka_err2name(err))) (bootstrap servers \(context.servers)): \(text); retrying")
}
