import Foundation
import LockstepBus
import Logging

/// `EventBus` on Apache Kafka (or any Kafka-protocol broker) through librdkafka.
///
/// One idempotent producer and one admin thread per bus; every `subscribe` and `read` opens its own
/// consumer handle with its own poll thread. Nothing here blocks a Swift concurrency thread.
public final class KafkaBus: EventBus {
    public let config: KafkaConfig
    private let logger: Logger
    private let producer: KafkaProducer
    private let admin: KafkaAdmin

    /// Checks the librdkafka version, then creates the producer (it connects in the background: an
    /// unreachable cluster shows up as errors naming the bootstrap servers, not as a failure here).
    public init(config: KafkaConfig, logger: Logger = Logger(label: "lockstep.kafka")) throws {
        try KafkaVersion.check()
        self.config = config
        self.logger = logger
        producer = try KafkaProducer(config: config, logger: logger)
        admin = KafkaAdmin(handle: producer.handle, config: config)
        logger.info("Kafka bus on \(config.bootstrapServersList) (librdkafka \(KafkaVersion.loadedString))",
                    metadata: ["config": "\(config)"])
    }

    /// From a `kafka://host:port[,host:port][?property=value]` URL, then `LOCKSTEP_KAFKA_*` variables.
    public convenience init(
        url: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "lockstep.kafka")
    ) throws {
        try self.init(config: KafkaConfig(url: url).applying(environment: environment), logger: logger)
    }

    public func createTopic(_ name: String, partitions: Int) async throws {
        try await admin.createTopic(name, partitions: partitions)
    }

    public func listTopics() async throws -> [TopicInfo] {
        try await admin.listTopics()
    }

    @discardableResult
    public func publish(_ records: [OutgoingRecord]) async throws -> [RecordPosition] {
        try await producer.publish(records)
    }

    public func subscribe(group: String, topics: [String]) async throws -> any GroupConsumer {
        try KafkaGroupConsumer(config: config, group: group, topics: topics, logger: logger)
    }

    public func read(topic: String, from start: SeekTarget, to end: ReadEnd) async throws -> any TopicReader {
        try await KafkaTopicReader(config: config, topic: topic, from: start, to: end, logger: logger)
    }

    public func committedOffsets(group: String, topic: String) async throws -> [Int32: Int64] {
        try await admin.committedOffsets(group: group, topic: topic)
    }

    /// Waits for records in flight (up to the request timeout), then releases the connections.
    /// Consumers and readers opened from this bus are closed by their own `close()`.
    public func close() async {
        await admin.close()
        await producer.close(timeout: config.requestTimeout)
    }

    /// A bus dropped without `close()` still flushes and releases its threads (closing twice is harmless).
    deinit {
        let admin = self.admin, producer = self.producer, timeout = config.requestTimeout
        Task {
            await admin.close()
            await producer.close(timeout: timeout)
        }
    }
}
