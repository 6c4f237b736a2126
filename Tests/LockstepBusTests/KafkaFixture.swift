import Foundation
import LockstepBus
import LockstepKafka
import LockstepTestSupport

/// A Tansu broker on a free loopback port and a `KafkaBus` connected to it, for one test.
///
/// Tansu keeps everything in memory, so each test gets a clean cluster. The client settings below are
/// tolerances for running against Tansu on a busy machine; the product keeps librdkafka's defaults.
final class KafkaFixture: Sendable {
    let broker: ManagedProcess
    let port: Int
    let config: KafkaConfig
    let kafkaBus: KafkaBus
    var bus: any EventBus { kafkaBus }

    /// Client properties for tests: faster group joins and fetch turnarounds than production defaults.
    static let testProperties = [
        "session.timeout.ms": "6000",
        "heartbeat.interval.ms": "500",
        "fetch.wait.max.ms": "10",
    ]

    /// The `tansu` executable on PATH (scripts/install-deps.sh puts it in /usr/local/bin).
    static var tansuPath: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin"
        for dir in path.split(separator: ":") + ["/usr/local/bin"] {
            let candidate = "\(dir)/tansu"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static var isAvailable: Bool { tansuPath != nil }

    private init(broker: ManagedProcess, port: Int, config: KafkaConfig) throws {
        self.broker = broker
        self.port = port
        self.config = config
        kafkaBus = try KafkaBus(config: config)
    }

    /// Starts a broker and waits until it accepts connections.
    static func start() async throws -> KafkaFixture {
        guard let tansu = tansuPath else { throw TestSupportError("tansu is not on PATH: run scripts/install-deps.sh") }
        let port = try FreePort.next()
        let url = "tcp://127.0.0.1:\(port)"
        let broker = try ManagedProcess(
            name: "tansu", executable: tansu,
            arguments: ["broker", "--listener-url", url, "--advertised-listener-url", url])
        do {
            try await broker.waitUntilAccepting(port: port)
        } catch {
            broker.stop()
            throw error
        }
        let config = KafkaConfig(
            bootstrapServers: ["127.0.0.1:\(port)"], properties: testProperties, requestTimeout: .seconds(20))
        return try KafkaFixture(broker: broker, port: port, config: config)
    }

    /// Another client on the same broker (a restarted process, a second member).
    func makeBus(consumerBufferCapacity: Int? = nil) throws -> KafkaBus {
        var config = self.config
        if let consumerBufferCapacity { config.consumerBufferCapacity = consumerBufferCapacity }
        return try KafkaBus(config: config)
    }

    /// Closes the bus, then stops the broker.
    func stop() async {
        await kafkaBus.close()
        broker.stop(grace: .seconds(2))
    }

    /// For synchronous callers: stops the broker now and lets the bus close in the background.
    func stop() {
        broker.stop(grace: .seconds(2))
        let bus = kafkaBus
        Task { await bus.close() }
    }
}
