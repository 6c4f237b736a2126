import Foundation
import LockstepBus
import LockstepCore
import LockstepKafka
import LockstepOperators
import LockstepServices
import LockstepWire
import Logging
import ServiceLifecycle

/// Every component in this process on the embedded bus (or a bus the test gives) and SQLite state in
/// a temporary directory: the real coordinator, workers and notifier, with DAGs, operators and a
/// clock chosen by the test. With a `TestClock`, time moves only when the test advances it.
public final class InProcessLockstep: @unchecked Sendable {
    // @unchecked: `group` and `task` change only in `start` and `stop`, which a test calls from one
    // task, one after the other; everything else is immutable.
    public let directory: URL
    public let runtime: Runtime
    public let registry: OperatorRegistry
    private var group: ServiceGroup?
    private var task: Task<Void, any Error>?

    /// `registry` serves the workers and tells the coordinator each operator's default queue;
    /// `spans` replaces the exporter the config's `otlpTracesEndpoint` would give.
    public init(
        dags: [DagSpec], config: LockstepConfig = LockstepConfig(pools: ["ml": PoolSpec(slots: 2)]),
        registry: OperatorRegistry = .allPacks, directory: URL? = nil, bus: (any EventBus)? = nil,
        clock: any LockstepClock = SystemClock(), spans: SpanExporter? = nil
    ) async throws {
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
            dags: dags, config: config, registry: registry, logger: logger, clock: clock, spans: spans)
        self.registry = registry
    }

    /// The clock every component here reads.
    public var clock: any LockstepClock { runtime.clock }

    /// Starts the coordinator, `workers` consumer slots of workers and of the notifier, and `extra`.
    ///
    /// On a `TestClock`, start one slot (`workers: 1`): a slot joining late moves partitions, and a
    /// command redelivered to a new owner while its first owner still runs it waits a claim
    /// heartbeat, which on a test clock passes only when the test advances time.
    public func start(workers: Int = 2, also extra: [any Service] = []) {
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
    /// (On a `TestClock`, an attempt still running finishes only when the test moves time past its end.)
    public func stop() async {
        await group?.triggerGracefulShutdown()
        _ = try? await task?.value
        group = nil
        task = nil
    }

    public func close() async {
        await stop()
        await runtime.spans.shutdown()
        await runtime.bus.close()
        await runtime.store.close()
    }

    /// Publishes a run request the way any producer would, with the producer's `traceparent` if
    /// given; returns the run id it will get.
    @discardableResult
    public func trigger(
        _ dagID: String, conf: JSONValue = .emptyObject, idempotencyKey: String? = nil, traceparent: String? = nil
    ) async throws -> RunID {
        let id = UUID().uuidString
        var data: [String: JSONValue] = ["dag_id": .string(dagID), "conf": conf]
        if let idempotencyKey { data["idempotency_key"] = .string(idempotencyKey) }
        var event = runtime.event(id: id, component: "test", type: EventType.runRequested, data: .object(data))
        event.traceparent = traceparent
        try await runtime.publish(event, to: runtime.topics.runRequests, key: dagID)
        return .requested(dagID: dagID, idempotencyKey: idempotencyKey ?? id)
    }

    /// The run as last committed, once `condition` holds for it (or fails after `timeout` of real time).
    @discardableResult
    public func waitForRun(
        _ id: RunID, _ what: String = "the run to finish", timeout: Duration = .seconds(30), until condition: (DagRun) -> Bool = { $0.state.isTerminal }
    ) async throws -> DagRun {
        var last: DagRun?
        do {
            try await poll("\(id): \(what)", timeout: timeout) {
                last = try await runtime.store.run(id)
                return last.map(condition) ?? false
            }
        } catch let failure as TestFailure {
            throw TestFailure("\(failure); last seen: \(last.map { "\($0.state) \($0.tasks.mapValues(\.state))" } ?? "not created")")
        }
        return last!
    }

    /// Waits until the task's try `tryNumber` is in `state` (e.g. `.upForRetry`, `.running`) and returns the run.
    @discardableResult
    public func waitForTask(
        _ runID: RunID, _ taskID: String, try tryNumber: Int = 1, _ state: TaskState, timeout: Duration = .seconds(30)
    ) async throws -> DagRun {
        try await waitForRun(runID, "\(taskID) try \(tryNumber) to be \(state.rawValue)", timeout: timeout) {
            $0.tasks[taskID].map { $0.tryNumber == tryNumber && $0.state == state } ?? false
        }
    }

    /// Events on a topic, polled until `done` holds for them (the store commits before the outbox is
    /// published, so a finished run's last events may trail it by a moment). Returns what it saw once
    /// `timeout` passes, so the caller's expectations say what is missing.
    public func events(on topic: String, until done: ([CloudEvent]) -> Bool, timeout: Duration = .seconds(10)) async throws -> [CloudEvent] {
        var seen: [CloudEvent] = []
        do {
            try await poll("events on \(topic)", timeout: timeout) {
                seen = try await events(on: topic)
                return done(seen)
            }
        } catch is TestFailure {}
        return seen
    }

    /// Every event on a topic, decoded.
    public func events(on topic: String) async throws -> [CloudEvent] {
        try await runtime.bus.read(topic: topic, from: .beginning, to: .latest).readAll().compactMap { try? CloudEvent($0) }
    }
}
