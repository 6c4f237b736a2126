import Foundation
import LockstepBus
import LockstepCore
import LockstepHTTP
import LockstepKafka
import LockstepOperators
import LockstepServices
import LockstepTestSupport
import Logging
import ServiceLifecycle
import Synchronization

/// Every component in this process — coordinator, workers, notifier — and the API server on a free
/// loopback port: embedded bus and SQLite state in a temporary directory by default, or any bus and
/// store the test gives. Every log line of every component and of the server is captured, so a test
/// can search them for secrets.
final class APITestSystem: Sendable {
    let directory: URL
    let runtime: Runtime
    let server: APIServer
    let logs: LogCapture
    let clock = TestClock()
    let port: Int
    let adminPassword = "admin-password-for-tests"
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    static let connectionPassword = "pw-Zq8#never-shown"

    /// A pipeline of three no-op tasks, one of them pooled, with one typed param.
    static let dags: [DagSpec] = [
        DagSpec(id: "api_pipeline", schedule: "0 2 * * *", tags: ["api", "test"],
                params: ["model_type": ParamSpec(type: .string, default: "baseline"), "epochs": ParamSpec(type: .integer)],
                tasks: [
                    TaskSpec(id: "extract", operator: "noop"),
                    TaskSpec(id: "train", operator: "noop", upstream: ["extract"], pool: "ml"),
                    TaskSpec(id: "report", operator: "noop", upstream: ["train"]),
                ]),
        DagSpec(id: "other_pipeline", tags: ["other"], tasks: [TaskSpec(id: "only", operator: "noop")]),
    ]

    static var config: LockstepConfig {
        LockstepConfig(
            pools: ["ml": PoolSpec(slots: 2, description: "training slots")],
            variables: ["BASE_URL": "http://127.0.0.1:9", "API_TOKEN": "token-value-hidden"],
            connections: ["warehouse": "postgresql://analyst:\(connectionPassword.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)@127.0.0.1:5999/warehouse"])
    }

    init(bus: (any EventBus)? = nil, store location: StoreLocation? = nil, dags: [DagSpec] = APITestSystem.dags,
         config: LockstepConfig = APITestSystem.config, workers: Int = 2) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lockstep-api-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let logs = LogCapture()
        self.logs = logs
        var logger = Logger(label: "lockstep.test", factory: { label in CapturingLogHandler(label: label, capture: logs) })
        logger.logLevel = .debug
        let clock = self.clock
        let store = try await StateStore(location ?? .sqlite(path: directory.appendingPathComponent("state.sqlite").path))
        runtime = Runtime(
            bus: try bus ?? EmbeddedBus(directory: directory), store: store, dags: dags, config: config,
            registry: .allPacks, logger: logger, clock: { clock.now() })
        try await runtime.createTopics()
        server = try await APIServer(
            runtime: runtime, configuration: .init(host: "127.0.0.1", port: 0),
            environment: ["LOCKSTEP_CONN_WAREHOUSE": "set"], fileConfig: LockstepConfig(variables: ["BASE_URL": "x"]))
        _ = try await UserAdministration.ensureFirstAdmin(server.users, environment: ["LOCKSTEP_ADMIN_PASSWORD": adminPassword], now: Date())
        let slots = runtime.bus is KafkaBus ? 1 : workers
        let options = Worker.Options(concurrency: slots, dataDirectory: directory, reportsDirectory: directory)
        var notifier = Worker.Options.notifier(dataDirectory: directory, reportsDirectory: directory)
        notifier.concurrency = 1
        let services: [any Service] = [
            Coordinator(runtime: runtime), Worker(runtime: runtime, options: options), Worker(runtime: runtime, options: notifier), server,
        ]
        let group = ServiceGroup(services: services, logger: logger)
        self.group = group
        task = Task { try await group.run() }
        port = try await server.waitUntilListening()
    }

    var base: URL { URL(string: "http://127.0.0.1:\(port)")! }

    func close() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        await runtime.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Polls the store until the run has finished.
    func waitForRun(_ id: RunID, timeout: Duration = .seconds(60)) async throws -> DagRun {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let run = try await runtime.store.run(id), run.state.isTerminal { return run }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestFailure("run \(id) did not finish within \(timeout)")
    }

    /// Polls `condition` until it holds or `timeout` passes.
    func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("gave up waiting for \(what) after \(timeout)")
    }
}

/// Every log line, rendered with its metadata, as a handler that writes them would show them.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let label: String
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let error = event.error.map { " error=\($0)" } ?? ""
        capture.append("\(event.level) \(label) [\(event.source)] \(event.message) \(all.map { "\($0)=\($1)" }.sorted().joined(separator: " "))\(error)")
    }
}

/// The wall clock plus an offset a test may move (to expire a token without waiting an hour).
final class TestClock: Sendable {
    private let offset = Mutex<TimeInterval>(0)
    func now() -> Date { Date().addingTimeInterval(offset.withLock { $0 }) }
    func advance(by seconds: TimeInterval) { offset.withLock { $0 += seconds } }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
