import Foundation
import LockstepBus
import LockstepKafka
import LockstepTestSupport

/// The buses the producer, consumer and ops tests run over: one test body, both transports.
enum Transport: String, CaseIterable, Sendable, CustomStringConvertible {
    case embedded, kafka
    var description: String { rawValue }

    /// A bus factory for one test: the embedded log in `directory`, or a fresh Tansu broker. Each call
    /// of `makeBus` is a new client on the same log or broker (as a restarted process would be).
    func start(directory: URL) async throws -> TransportFixture {
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

final class TransportFixture: @unchecked Sendable {
    let broker: TansuBroker?
    let makeBus: @Sendable () throws -> any EventBus

    init(broker: TansuBroker?, makeBus: @escaping @Sendable () throws -> any EventBus) {
        self.broker = broker
        self.makeBus = makeBus
    }

    func stop() { broker?.stop() }
}
