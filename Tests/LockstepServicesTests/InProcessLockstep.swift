import Foundation
import LockstepBus
import LockstepCore
import LockstepKafka
import LockstepOperators
import LockstepServices
import LockstepWire
import Logging
import ServiceLifecycle

/// Every component in this process on the embedded bus and SQLite state in a temporary directory:
/// the real coordinator, workers and notifier, with DAGs and operators chosen by the test.
final class InProcessLockstep: @unchecked Sendable {
    let directory: URL
    let runtime: Runtime
    let registry: OperatorRegistry
    private var group: ServiceGroup?
    private var task: Task<Void, any Error>?

    init(dags: [DagSpec], config: LockstepConfig = LockstepConfig(pools: ["ml": PoolSpec(slots: 2)]),
         registry: OperatorRegistry = .allPacks, directory: URL? = nil, bus: (any EventBus)? = nil) async throws {
        self.directory = try directory ?? {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("lockstep-services-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            return url
        }()
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        runtime = Runtime(
            bus: try bus ?? EmbeddedBus(directory: self.directory),
            store: try await StateStore(.sqlite(path: self.directory.appendingPathComponent("state.sqlite").path)),
            dags: dags, config: config, logger: logger)
        self.registry = registry
    }

    func start(workers: Int = 2, also extra: [any Service] = []) {
        // Tansu's group coordinator can livelock when two members of one group join at the same moment
        // (measured: SyncGroup "rebalance in progress" back and forth for over a minute; Apache Kafka
        // waits for every member in its join phase). On Kafka these tests run one member per group.
        let slots = runtime.bus is KafkaBus ? 1 : workers
        let options = Worker.Options(concurrency: slots, dataDirectory: directory, reportsDirectory: directory)
        var notifier = Worker.Options.notifier(dataDirectory: directory, reportsDirectory: directory)
        notifier.concurrency = min(notifier.concurrency, slots)
        let services: [any Service] = [
            Coordinator(runtime: runtime),
            Worker(runtime: runtime, registry: registry, options: options),
            Worker(runtime: runtime, registry: registry, options: notifier),
        ] + extra
        let group = ServiceGroup(services: services, logger: runtime.logger)
        self.group = group
        task = Task { try await group.run() }
    }

    /// Graceful shutdown: components finish what they hold and commit nothing they did not finish.
    func stop() async {
        await group?.triggerGracefulShutdown()
        _ = try? await task?.value
        group = nil
        task = nil
    }

    func close() async {
        await stop()
        await runtime.bus.close()
        await runtime.store.close()
    }

    /// Publishes a run request the way any producer would; returns the run id it will get.
    @discardableResult
    func trigger(_ dagID: String, conf: JSONValue = .emptyObject, idempotencyKey: String? = nil) async throws -> RunID {
        let id = UUID().uuidString
        var data: [String: JSONValue] = ["dag_id": .string(dagID), "conf": conf]
        if let idempotencyKey { data["idempotency_key"] = .string(idempotencyKey) }
        let event = runtime.event(id: id, component: "test", type: EventType.runRequested, data: .object(data))
        try await runtime.publish(event, to: runtime.topics.runRequests, key: dagID)
        return idempotencyKey.map { "\(dagID)~\($0)" } ?? "\(dagID)~\(id)"
    }

    /// Waits until the run is finished (or `timeout` passes) and returns it.
    func waitForRun(_ id: RunID, timeout: Duration = .seconds(30)) async throws -> DagRun {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let run = try await runtime.store.run(id), run.state.isTerminal { return run }
            try await Task.sleep(for: .milliseconds(20))
        }
        let run = try await runtime.store.run(id)
        throw TestFailure("run \(id) did not finish within \(timeout); last seen: \(run.map { "\($0.state) \($0.tasks.mapValues(\.state))" } ?? "not created")")
    }

    /// Events on a topic, polled until `done` holds for them (the store commits before the outbox is
    /// published, so a finished run's last events may trail it by a moment).
    func events(on topic: String, until done: ([CloudEvent]) -> Bool, timeout: Duration = .seconds(10)) async throws -> [CloudEvent] {
        let deadline = ContinuousClock.now + timeout
        var seen = try await events(on: topic)
        while !done(seen) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            seen = try await events(on: topic)
        }
        return seen
    }

    /// Every event on a topic, decoded.
    func events(on topic: String) async throws -> [CloudEvent] {
        try await runtime.bus.read(topic: topic, from: .beginning, to: .latest).readAll().compactMap { try? CloudEvent($0) }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// An operator that fails its first `failures` calls per task, then succeeds.
actor FlakyCounter {
    private var calls: [String: Int] = [:]
    func next(_ key: String) -> Int {
        calls[key, default: 0] += 1
        return calls[key]!
    }
    func count(_ key: String) -> Int { calls[key] ?? 0 }
}

struct FlakyOperator: TaskOperator {
    let counter: FlakyCounter
    let failures: Int
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let call = await counter.next("\(context.runID)/\(context.taskID)")
        if call <= failures { throw OperatorError(.unavailable, "flaky call \(call)", retryable: true) }
        return OperatorResult(output: ["calls": .int(Int64(call))])
    }
}

func task(_ id: String, _ op: String = "noop", after: [String] = [], params: [String: JSONValue] = [:], pool: String? = nil,
          retries: Int = 0, delay: Duration = .milliseconds(50), timeout: Duration? = nil) -> TaskSpec {
    TaskSpec(id: id, operator: op, params: params, upstream: after, pool: pool, retry: RetryPolicy(retries: retries, delay: delay), timeout: timeout)
}
