import Foundation
import LockstepBus
import LockstepKafka
import LockstepTestSupport

/// The buses a test body runs over unchanged: the embedded log, or Kafka on a fresh Tansu broker.
public enum Transport: String, CaseIterable, Sendable, CustomStringConvertible {
    case embedded, kafka
    public var description: String { rawValue }

    /// A bus factory for one test: the embedded log in `directory`, or a fresh Tansu broker. Each call
    /// of `makeBus` is a new client on the same log or broker (as a restarted process would be).
    public func start(directory: URL) async throws -> TransportFixture {
        switch self {
        case .embedded:
            return TransportFixture(broker: nil) { try EmbeddedBus(directory: directory) }
        case .kafka:
            let broker = try await TansuBroker.start()
            let servers = broker.bootstrap
            return TransportFixture(broker: broker) {
                try KafkaBus(config: KafkaConfig(bootstrapServers: [servers], properties: TansuBroker.clientProperties))
            }
        }
    }
}

/// What `Transport.start` started: the broker, if any, and a way to open clients of its log.
public final class TransportFixture: Sendable {
    public let broker: TansuBroker?
    public let makeBus: @Sendable () throws -> any EventBus

    init(broker: TansuBroker?, makeBus: @escaping @Sendable () throws -> any EventBus) {
        self.broker = broker
        self.makeBus = makeBus
    }

    public func stop() { broker?.stop() }
}
