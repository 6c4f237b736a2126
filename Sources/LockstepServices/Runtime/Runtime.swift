import Foundation
import LockstepBus
import LockstepCore
import LockstepOperators
import LockstepWire
import Logging

/// What every component shares: the bus, the state store, the topics, the pipelines, the operators
/// and a clock. It owns the bus and the store it is given: `close()` closes both.
public struct Runtime: Sendable {
    public var bus: any EventBus
    public var store: StateStore
    public var topics: Topics
    public var dags: [DagSpec]
    public var config: LockstepConfig
    /// The operators of the packs this deployment loads.
    public var registry: OperatorRegistry
    public var logger: Logger
    /// The time every component lives by: the system clock, or a test clock that a test moves.
    public var clock: any LockstepClock
    /// This process, as CloudEvents `source` (e.g. `lockstep/worker/host-1234`).
    public var instance: String
    /// How each component of this process is doing (shared by every copy of this runtime).
    public let health: ComponentHealth
    /// What the components count of their own work (`--metrics`); a no-op unless set.
    public var metrics = ComponentMetrics()
    /// Where the attempts' and runs' spans go: the config's OTLP endpoint, if it names one.
    public var spans: SpanExporter

    /// `spans` defaults to an exporter to `config.otlpTracesEndpoint` (none when it is nil).
    public init(
        bus: any EventBus, store: StateStore, topics: Topics = Topics(), dags: [DagSpec], config: LockstepConfig,
        registry: OperatorRegistry = OperatorRegistry(packs: []),
        logger: Logger = Logger(label: "lockstep"), clock: any LockstepClock = SystemClock(),
        instance: String = Runtime.defaultInstance, spans: SpanExporter? = nil
    ) {
        self.bus = bus
        self.store = store
        self.topics = topics
        self.dags = dags
        self.config = config
        self.registry = registry
        self.logger = logger
        self.clock = clock
        self.instance = instance
        health = ComponentHealth(storeHealth: { [store] in store.health })
        self.spans = spans ?? SpanExporter(
            endpoint: config.otlpTracesEndpoint.flatMap { URL(string: $0) }, instance: instance, logger: logger)
    }

    public init(
        bus: any EventBus, store: StateStore, topics: Topics = Topics(), deployment: Deployment,
        logger: Logger = Logger(label: "lockstep"), clock: any LockstepClock = SystemClock(),
        instance: String = Runtime.defaultInstance
    ) {
        self.init(bus: bus, store: store, topics: topics, dags: deployment.dags, config: deployment.config,
                  registry: deployment.registry, logger: logger, clock: clock, instance: instance)
    }

    /// The DAGs by id.
    public var dagsByID: [String: DagSpec] { Dictionary(dags.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first }) }

    /// Sends the spans still queued (briefly), then closes the bus and the state store.
    public func close() async {
        await spans.shutdown()
        await bus.close()
        await store.close()
    }

    public static var defaultInstance: String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Creates every topic Lockstep uses (idempotent).
    public func createTopics() async throws {
        for (name, partitions) in topics.all { try await bus.createTopic(name, partitions: partitions) }
    }

    /// A CloudEvent from this process.
    public func event(
        id: String = UUID().uuidString, component: String, type: String, subject: String? = nil, data: JSONValue,
        time: Date? = nil
    ) -> CloudEvent {
        CloudEvent(
            id: id, source: "lockstep/\(component)/\(instance)", type: type, time: time ?? clock.now, subject: subject,
            data: data)
    }

    /// Publishes one event in binary mode, returning once it is durable.
    public func publish(_ event: CloudEvent, to topic: String, key: String) async throws {
        try await bus.publish(stamped(event.record(topic: topic, key: key)))
    }

    /// The record with this clock's time as its timestamp. The coordinator's engine takes `now` from
    /// the timestamp of the record it consumes, so what the components publish must carry the
    /// injected clock's time, not the log's (the embedded log's own time, Kafka's CreateTime).
    public func stamped(_ record: OutgoingRecord) -> OutgoingRecord {
        var record = record
        record.timestamp = clock.now
        return record
    }

    /// Commits a consumed position. A failed commit is not fatal: the partition may have moved to
    /// another member in a rebalance, which then handles the record again — harmless, since every
    /// handler is idempotent.
    public func commit(_ position: RecordPosition, on consumer: any GroupConsumer) async {
        do {
            try await consumer.commit(position)
        } catch {
            logger.warning("commit of \(position) failed; the record may be handled again", metadata: ["error": .string("\(error)")])
        }
    }

    /// Puts a record that could not be handled on the dead-letter topic, with the reason.
    public func deadLetter(_ record: BusRecord, component: String, reason: String) async throws {
        let data = DeadLetter.data(original: record, component: component, reason: reason, at: clock.now)
        let event = self.event(
            id: "deadletter/\(record.position)", component: component, type: EventType.deadLetter,
            subject: record.position.description, data: data)
        try await publish(event, to: topics.deadLetters, key: record.key ?? record.position.description)
        metrics.deadLettered(component: component, topic: record.position.topic)
        logger.warning("dead-lettered \(record.position)", metadata: ["component": .string(component), "reason": .string(reason)])
    }
}
