import Foundation
import LockstepBus
import LockstepCore
import LockstepOperators
import LockstepServices
import LockstepTestKit
import LockstepTestSupport
import LockstepWire
import Testing

/// The topic catalog (`topics/`) against the code: runs DAGs through the real coordinator, workers,
/// notifier, scheduler and ops actions until every event type Lockstep publishes has appeared, writes
/// each event as structured-mode JSON to `.build/topic-samples/<type>/<n>.json` (validated against
/// `topics/schemas` by `scripts/validate-topic-samples.py`, which `make test` runs), and checks that
/// the event types seen and the schema files are the same set, so neither can drift from the other.
@Suite struct TopicCatalogSampleTests {
    /// Types that have a schema (they are part of the wire format) but that this version never publishes.
    /// If one starts being published, the test says so: remove it from here.
    static let declaredButNotPublished: Set<String> = []

    static var samplesDirectory: URL { TestPaths.packageRoot.appendingPathComponent(".build/topic-samples") }
    static var schemasDirectory: URL { TestPaths.packageRoot.appendingPathComponent("topics/schemas") }

    /// Event types with a schema file: `topics/schemas/<type>.json`, except the envelope's own.
    static func schemaTypes() throws -> Set<String> {
        let names = try FileManager.default.contentsOfDirectory(atPath: schemasDirectory.path)
        return Set(names.filter { $0.hasSuffix(".json") && $0 != "cloudevent.json" }.map { String($0.dropLast(".json".count)) })
    }

    @Test func everyEventTypeOnEveryTopicIsSampledAndMatchesTheCatalog() async throws {
        let schemaTypes = try Self.schemaTypes()
        #expect(!schemaTypes.isEmpty, "no schemas in \(Self.schemasDirectory.path)")
        let expected = schemaTypes.subtracting(Self.declaredButNotPublished)

        // A JSON /health endpoint for the real health-check operator, and a port where nothing listens.
        let web = try await HealthEndpoint.start()
        defer { web.stop() }
        let closedPort = try ClosedPort.next()

        let minute = (Date().timeIntervalSince1970 / 60).rounded(.down) * 60
        let scheduleStart = Date(timeIntervalSince1970: minute - 120)
        let scheduled = DagSpec(id: "catalog_scheduled", schedule: "* * * * *", catchup: true, startDate: scheduleStart, tasks: [task("a")])
        let dags: [DagSpec] = [
            DagSpec(id: "catalog_success", tasks: [task("a"), task("b", after: ["a"], pool: "ml")]),
            DagSpec(id: "catalog_downstream", triggerOn: ["catalog_success"], tasks: [task("a")]),
            DagSpec(id: "catalog_retry", tasks: [task("flaky", "flaky", retries: 1, delay: .milliseconds(50))]),
            DagSpec(id: "catalog_timeout", tasks: [task("nap", "sleep", params: ["seconds": 30], timeout: .milliseconds(300))]),
            DagSpec(id: "catalog_failure", tasks: [
                task("ok"),
                task("boom", "fail", params: ["message": "failed on purpose", "retryable": false]),
                task("after_boom", after: ["boom"]),
                TaskSpec(id: "only_if_failed", operator: "noop", upstream: ["ok"], triggerRule: .allFailed),
            ]),
            DagSpec(id: "catalog_cancel", tasks: [task("long", "sleep", params: ["seconds": 3])]),
            DagSpec(id: "catalog_paused", tasks: [task("a")]),
            scheduled,
            DagSpec(id: "catalog_ml", tasks: [
                task("check_services", "multi_health_check", params: [
                    "services": .object([
                        "web": .object(["url": .string("http://127.0.0.1:\(web.port)/health")]),
                        "down": .object(["url": .string("http://127.0.0.1:\(closedPort)/health")]),
                    ]),
                    "timeout": 5, "min_healthy": 1,
                ]),
                task("extract_data", "catalog_extract"),
                task("preprocess", "preprocess", after: ["extract_data"], params: ["source": "extract_data"]),
                task("train_model", "train_model", after: ["preprocess"], params: ["model_type": "recommendation_model"]),
                // On the notifications topic; nothing listens, so the notifier gives up and dead-letters it.
                task("notify_training_complete", "notify_training_complete", after: ["train_model"], params: [
                    "url": .string("http://127.0.0.1:\(closedPort)/api/model/training-complete"), "max_attempts": 1, "timeout": 2,
                ]),
            ]),
        ]
        let registry = OperatorRegistry.allPacks
            .registering("flaky", FlakyOperator(counter: FlakyCounter(), failures: 1))
            .registering("catalog_extract", CatalogExtractOperator())
        let system = try await InProcessLockstep(dags: dags, registry: registry)
        let runtime = system.runtime
        let topics = runtime.topics
        let ops = OpsActions(runtime: runtime, actor: "topic-catalog-test")
        let testStart = Date()
        system.start(workers: 4)

        // Producers: one structured-mode request with every field, one binary-mode request the harness way.
        let structured = CloudEvent(
            id: UUID().uuidString, source: "/catalog-test/producer", type: EventType.runRequested, time: Date(),
            subject: "catalog_success", datacontenttype: nil,
            data: [
                "dag_id": "catalog_success", "run_id": "catalog_success~structured", "logical_date": "2025-09-18T02:00:00Z",
                "conf": ["note": "structured mode"], "idempotency_key": "catalog-structured", "trigger": ["type": "manual"],
            ])
        try await runtime.bus.publish(structured.structuredRecord(topic: topics.runRequests, key: "catalog_success"))
        var runIDs: [RunID] = ["catalog_success~structured"]
        runIDs.append(try await system.trigger("catalog_success", conf: ["note": "binary mode"], idempotencyKey: "catalog-binary"))
        for dag in ["catalog_retry", "catalog_timeout", "catalog_failure", "catalog_ml"] {
            runIDs.append(try await system.trigger(dag))
        }

        // Cancel a run whose task is running.
        let cancelled = try await system.trigger("catalog_cancel")
        try await poll("catalog_cancel's task to start") {
            try await runtime.store.run(cancelled)?.tasks["long"]?.state == .running
        }
        try await ops.cancel(cancelled, reason: "topic catalog test")
        runIDs.append(cancelled)

        // Pause, a request refused while paused (dead letter), unpause.
        try await ops.pause("catalog_paused")
        try await poll("catalog_paused to be paused") { try await runtime.store.pausedDags().contains("catalog_paused") }
        let refused = try await system.trigger("catalog_paused")
        try await poll("the refused request to be dead-lettered") {
            try await system.events(on: topics.deadLetters).contains { $0.data?["reason"]?.stringValue?.contains("paused") == true }
        }
        try await ops.unpause("catalog_paused")
        try await poll("catalog_paused to be unpaused") { try await !runtime.store.pausedDags().contains("catalog_paused") }
        #expect(try await runtime.store.run(refused) == nil)

        // A record that is not a CloudEvent (dead letter).
        try await runtime.bus.publish(OutgoingRecord(topic: topics.runRequests, key: "catalog-malformed", value: Array("not an event".utf8)))

        // The scheduler catching up two minutes of ticks.
        let scheduler = Task { try await Scheduler(runtime: runtime, pollInterval: .milliseconds(200)).run() }
        try await poll("two schedule ticks") { try await system.events(on: topics.scheduleTicks).count >= 2 }
        scheduler.cancel()
        _ = try? await scheduler.value

        // A backfill, as `lockstep backfill` publishes it.
        let from = scheduleStart.addingTimeInterval(-300), to = scheduleStart.addingTimeInterval(-181)
        let backfill = try Backfill.requests(scheduled, from: from, to: to)
        for request in backfill { try await ops.requestRun(request) }
        try await ops.audit("backfill", target: scheduled.id, details: [
            "from": .string(ISO8601.format(from)), "to": .string(ISO8601.format(to)), "runs": .int(Int64(backfill.count)),
        ])
        runIDs += backfill.map(\.runID)

        for id in runIDs { _ = try await system.waitForRun(id, timeout: .seconds(60)) }

        // A replay of this test's catalog_success requests, as `lockstep replay` publishes it.
        let replay = Replay(runtime: runtime)
        let items = try await replay.plan(topic: topics.runRequests, from: .time(testStart), to: .latest, dagID: "catalog_success", batch: "catalog")
        #expect(items.count == 2)
        try await replay.execute(items, topic: topics.runRequests, ops: ops)
        for item in items { _ = try await system.waitForRun(item.request.runID, timeout: .seconds(60)) }

        // A redrive of the malformed record (it is dead-lettered again).
        let letters = DeadLetters(runtime: runtime)
        var malformed: DeadLetters.Entry?
        try await poll("the malformed record's dead letter") {
            malformed = try await letters.list().first { $0.key == "catalog-malformed" }
            return malformed != nil
        }
        _ = try await letters.redrive(malformed!.id, ops: ops)
        try await poll("the redriven record to be dead-lettered again") {
            try await letters.list().filter { $0.key == "catalog-malformed" }.count == 2
        }

        // Everything settles: every run finished, every expected type published.
        var seen: Set<String> = []
        try await poll("every run to finish and every expected event type to appear", timeout: .seconds(60)) {
            for dag in dags {
                for run in try await runtime.store.runs(dagID: dag.id, limit: 1000) where !run.state.isTerminal { return false }
            }
            seen = []
            for (topic, _) in topics.all { for event in try await system.events(on: topic) { seen.insert(event.type) } }
            return seen.isSuperset(of: expected)
        }
        await system.stop()

        // Every record on every topic, as a sample.
        let samples = Self.samplesDirectory
        try? FileManager.default.removeItem(at: samples)
        try FileManager.default.createDirectory(at: samples, withIntermediateDirectories: true)
        var counts: [String: Int] = [:]
        var manifest: [JSONValue] = []
        var undecodable: [BusRecord] = []
        for (topic, _) in topics.all {
            for record in try await runtime.bus.read(topic: topic, from: .beginning, to: .latest).readAll() {
                guard let event = try? CloudEvent(record) else {
                    undecodable.append(record)
                    continue
                }
                let n = counts[event.type, default: 0] + 1
                counts[event.type] = n
                let dir = samples.appendingPathComponent(event.type)
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                try Data(event.structuredJSON.utf8).write(to: dir.appendingPathComponent("\(n).json"))
                let structuredMode = record.header("ce_specversion") == nil
                manifest.append([
                    "file": .string("\(event.type)/\(n).json"), "topic": .string(topic), "key": record.key.map(JSONValue.string) ?? .null,
                    "partition": .int(Int64(record.position.partition)), "offset": .int(record.position.offset),
                    "mode": .string(structuredMode ? "structured" : "binary"),
                    "headers": .array(record.headers.map { .string($0.name) }),
                ])
            }
        }
        try Data(JSONValue.object(["samples": .array(manifest)]).canonicalJSON().utf8)
            .write(to: samples.appendingPathComponent("manifest.json"))
        await system.close()

        // Only the two copies of the malformed record (original and redrive) are not CloudEvents.
        #expect(undecodable.count == 2)
        #expect(undecodable.allSatisfy { $0.topic == topics.runRequests && $0.value == Array("not an event".utf8) })

        // The catalog and the code name the same event types.
        let published = Set(counts.keys)
        let withoutSchema = published.subtracting(schemaTypes).sorted()
        let neverSeen = expected.subtracting(published).sorted()
        let nowPublished = Self.declaredButNotPublished.intersection(published).sorted()
        #expect(withoutSchema.isEmpty, "published but not in topics/schemas (add a schema and a message in topics/asyncapi.yaml): \(withoutSchema)")
        #expect(neverSeen.isEmpty, "in topics/schemas but never published by this test (exercise it here, or remove the schema): \(neverSeen)")
        #expect(nowPublished.isEmpty, "now published: remove from declaredButNotPublished: \(nowPublished)")
        #expect(Self.declaredButNotPublished.isSubset(of: schemaTypes))

        // Every LifecycleEvent.Kind is in the catalog, published or declared.
        for kind in LifecycleEvent.Kind.allCases {
            #expect(schemaTypes.contains(EventType.lifecycle(kind)), "no schema for lifecycle kind \(kind.rawValue)")
        }
    }
}

/// `extract_data` without a database: the entity counts `preprocess` and `train_model` read.
private struct CatalogExtractOperator: TaskOperator {
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        OperatorResult(output: ["users_count": 5, "deals_count": 3, "total_records": 8])
    }
}

/// A static JSON `/health` endpoint (Python's http.server on a free port).
private final class HealthEndpoint: @unchecked Sendable {
    let port: Int
    let process: ManagedProcess
    let directory: URL

    private init(port: Int, process: ManagedProcess, directory: URL) {
        self.port = port
        self.process = process
        self.directory = directory
    }

    static func start() async throws -> HealthEndpoint {
        let directory = try TestPaths.temporaryDirectory("catalog-health")
        try Data(#"{"status": "ok", "service": "catalog-web"}"#.utf8).write(to: directory.appendingPathComponent("health"))
        let port = try FreePort.next()
        let process = try ManagedProcess(
            name: "catalog-health", executable: "/usr/bin/env",
            arguments: ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", directory.path])
        let endpoint = HealthEndpoint(port: port, process: process, directory: directory)
        do { try await process.waitUntilAccepting(port: port) } catch {
            endpoint.stop()
            throw error
        }
        return endpoint
    }

    func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}
