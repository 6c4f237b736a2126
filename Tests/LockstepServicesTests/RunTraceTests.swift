import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LockstepBus
import LockstepCore
import LockstepOperators
import LockstepServices
import LockstepTestKit
import LockstepTestSupport
import LockstepWire
import Testing

/// A run's W3C trace, through the real coordinator, workers and notifier on the embedded bus: from the
/// request to every event and command, onto the operators' HTTP calls, and out as OTLP spans.
@Suite(.serialized) struct RunTraceTests {
    static let producer = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    /// Every event of the run on every topic but the requests (the producer's own event).
    func runEvents(_ system: InProcessLockstep, _ runID: RunID) async throws -> [CloudEvent] {
        let topics = system.runtime.topics
        var events: [CloudEvent] = []
        for topic in [topics.taskCommands, topics.notifications, topics.taskResults, topics.runEvents] {
            events += try await system.events(on: topic).filter { $0.data?.objectValue?["run_id"]?.stringValue == runID }
        }
        return events
    }

    @Test func theTrainingCompletePOSTAndRunSucceededCarryTheRunsTraceID() async throws {
        let cluster = try await PostgresCluster.shared()
        let fastapi = try await FastAPIService.start()
        defer { fastapi.stop() }
        let root = TestPaths.packageRoot
        let deployment = try SeedDeployment.load(
            root: root, variables: ["FASTAPI_BASE_URL": fastapi.baseURL, "ML_DIR": root.appendingPathComponent("ml").path],
            connections: ["noblestride_postgres": cluster.uri()])
        let (config, dags) = (deployment.config, deployment.dags)
        let system = try await InProcessLockstep(dags: dags.filter { $0.id == "recommender_training_pipeline" }, config: config)
        system.start(workers: 1)
        let runID = try await system.trigger("recommender_training_pipeline", idempotencyKey: "traced-training")
        let run = try await system.waitForRun(runID, timeout: .seconds(120))
        let events = try await system.events(on: system.runtime.topics.runEvents) {
            $0.contains { $0.type == EventType.lifecycle(.runSucceeded) && $0.subject == runID }
        }
        await system.close()

        #expect(run.state == .succeeded, "\(run.state): \(run.failure ?? "")")
        let traceID = try #require(run.trace?.traceID)
        #expect(TraceContext.isTraceID(traceID))
        let succeeded = try #require(events.first { $0.type == EventType.lifecycle(.runSucceeded) && $0.subject == runID })
        #expect(succeeded.traceContext?.traceID == traceID, "\(succeeded.traceparent ?? "no traceparent")")
        #expect(succeeded.traceContext?.parentSpanID == TraceContext.runSpanID(runID), "run events are in the run's span")

        let received = try await fastapi.received()
        let item = try #require(received["items"]?.arrayValue?.first?.objectValue, "\(received)")
        let posted = TraceContext.parse(traceparent: item["traceparent"]?.stringValue)
        #expect(posted?.traceID == traceID, "training-complete POST: \(item["traceparent"] ?? .null)")
        #expect(posted?.parentSpanID == TraceContext.spanID(of: AttemptID(runID: runID, taskID: "notify_training_complete", tryNumber: 1)),
                "the POST is made in the notifier attempt's span")
        // The health check's GET carries it too.
        let health = received["traces"]?.arrayValue?.compactMap(\.objectValue).filter { $0["path"] == "/health" } ?? []
        #expect(!health.isEmpty && health.allSatisfy { TraceContext.parse(traceparent: $0["traceparent"]?.stringValue)?.traceID == traceID },
                "\(health)")
    }

    @Test func aProducersTraceIsKeptOnEveryEventAndAMissingOrMalformedOneStartsANewTrace() async throws {
        let dags = [DagSpec(id: "traced", tasks: [task("a"), task("b", after: ["a"])])]
        let system = try await InProcessLockstep(dags: dags)
        system.start()
        let continued = try await system.trigger("traced", idempotencyKey: "continued", traceparent: Self.producer)
        let fresh = try await system.trigger("traced", idempotencyKey: "fresh")
        let malformed = try await system.trigger("traced", idempotencyKey: "malformed", traceparent: "00-NOT-A-TRACE-01")
        var runs: [RunID: DagRun] = [:]
        for id in [continued, fresh, malformed] { runs[id] = try await system.waitForRun(id) }
        var events: [RunID: [CloudEvent]] = [:]
        for id in runs.keys {
            // dispatch, started and succeeded per task (2 × 3) and the run's and tasks' lifecycle events.
            _ = try await system.events(on: system.runtime.topics.runEvents) {
                $0.contains { $0.type == EventType.lifecycle(.runSucceeded) && $0.subject == id }
            }
            events[id] = try await runEvents(system, id)
        }
        let deadLetters = try await system.events(on: system.runtime.topics.deadLetters)
        await system.close()

        #expect(runs.values.allSatisfy { $0.state == .succeeded })
        #expect(deadLetters.isEmpty, "a malformed traceparent is no reason for a dead letter: \(deadLetters.map(\.data))")
        // The producer's trace id, with the producer's span as the run's parent.
        #expect(runs[continued]?.trace?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(runs[continued]?.trace?.parentSpanID == "00f067aa0ba902b7")
        for (id, run) in runs {
            let traceID = try #require(run.trace?.traceID)
            #expect(TraceContext.isTraceID(traceID))
            let seen = events[id] ?? []
            #expect(seen.count >= 10, "\(id): \(seen.map(\.type))")
            for event in seen {
                #expect(event.traceContext?.traceID == traceID, "\(id) \(event.type): \(event.traceparent ?? "none")")
            }
            // An attempt's command and results are in the attempt's span.
            for event in seen where event.type == EventType.taskDispatched || event.type.hasPrefix("lockstep.attempt.") {
                let data = event.data?.objectValue ?? [:]
                let attempt = AttemptID(runID: id, taskID: data["task_id"]?.stringValue ?? "", tryNumber: Int(data["try_number"]?.intValue ?? 0))
                #expect(event.traceContext?.parentSpanID == TraceContext.spanID(of: attempt), "\(event.type) of \(attempt)")
            }
        }
        let ids = Set(runs.values.compactMap(\.trace?.traceID))
        #expect(ids.count == 3, "each run without a producer's trace gets its own: \(ids)")
    }

    @Test func eachAttemptIsExportedAsAnOTLPSpanOfTheRunsTrace() async throws {
        let collector = try WebhookSink()
        defer { collector.stop() }
        let spans = SpanExporter(endpoint: URL(string: "http://127.0.0.1:\(collector.port)/v1/traces")!, instance: "test")
        let registry = OperatorRegistry.allPacks.registering("flaky", FlakyOperator(counter: FlakyCounter(), failures: 1))
        let dags = [DagSpec(id: "exported", tasks: [task("a"), task("flaky", "flaky", after: ["a"], retries: 1)])]
        let system = try await InProcessLockstep(dags: dags, registry: registry, spans: spans)
        system.start()
        let runID = try await system.trigger("exported", traceparent: Self.producer)
        let run = try await system.waitForRun(runID)
        // a, flaky #1 (failed), flaky #2, and the run's own span.
        var received: [[String: JSONValue]] = []
        try await poll("4 spans at the collector", timeout: .seconds(15)) {
            received = collector.received.flatMap { request -> [[String: JSONValue]] in
                let body = try? JSONValue.parse(String(decoding: request.body, as: UTF8.self))
                return body?["resourceSpans"]?.arrayValue?.flatMap { $0["scopeSpans"]?.arrayValue ?? [] }
                    .flatMap { $0["spans"]?.arrayValue ?? [] }.compactMap(\.objectValue) ?? []
            }
            return received.count >= 4
        }
        await system.close()

        #expect(run.state == .succeeded)
        for request in collector.received {
            #expect(request.method == "POST" && request.path == "/v1/traces")
            #expect(request.headers["content-type"] == "application/json")
            let body = try JSONValue.parse(String(decoding: request.body, as: UTF8.self))
            let attributes = body["resourceSpans"]?.arrayValue?.first?["resource"]?["attributes"]?.arrayValue ?? []
            #expect(attributes.contains { $0["key"] == "service.name" && $0["value"]?["stringValue"] == "lockstep" })
        }
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        #expect(received.allSatisfy { $0["traceId"] == .string(traceID) }, "\(received.map { $0["traceId"] ?? .null })")
        func attribute(_ span: [String: JSONValue], _ key: String) -> JSONValue? {
            span["attributes"]?.arrayValue?.first { $0["key"] == .string(key) }?["value"]
        }
        let attempts = received.filter { attribute($0, "lockstep.task") != nil }
        #expect(attempts.map { "\($0["name"]?.stringValue ?? "")#\(attribute($0, "lockstep.try")?["intValue"]?.stringValue ?? "")" }.sorted()
                == ["a#1", "flaky#1", "flaky#2"])
        for span in attempts {
            let task = span["name"]?.stringValue ?? ""
            let tryNumber = Int(attribute(span, "lockstep.try")?["intValue"]?.stringValue ?? "") ?? 0
            #expect(span["spanId"] == .string(TraceContext.spanID(of: AttemptID(runID: runID, taskID: task, tryNumber: tryNumber))))
            #expect(span["parentSpanId"] == .string(TraceContext.runSpanID(runID)))
            #expect(span["kind"] == .int(1))
            #expect(attribute(span, "lockstep.dag")?["stringValue"] == "exported")
            #expect(attribute(span, "lockstep.run")?["stringValue"] == .string(runID))
            #expect(attribute(span, "lockstep.worker")?["stringValue"]?.stringValue?.isEmpty == false)
            let start = UInt64(span["startTimeUnixNano"]?.stringValue ?? "") ?? 0
            let end = UInt64(span["endTimeUnixNano"]?.stringValue ?? "") ?? 0
            #expect(start > 1_700_000_000_000_000_000 && end >= start, "\(span)")
            let failed = task == "flaky" && tryNumber == 1
            #expect(attribute(span, "lockstep.outcome")?["stringValue"] == .string(failed ? "failed" : "succeeded"))
            #expect(span["status"]?["code"] == .int(failed ? 2 : 1))
        }
        let runSpan = try #require(received.first { $0["spanId"] == .string(TraceContext.runSpanID(runID)) })
        #expect(runSpan["name"] == "exported")
        #expect(runSpan["parentSpanId"] == "00f067aa0ba902b7", "the run's span is a child of the producer's")
        #expect(spans.statistics.dropped == 0)
    }

    @Test func aCollectorThatNeverAnswersCostsSpansNotTheRun() async throws {
        // A listening socket nobody accepts from: the kernel completes the connection, nothing answers.
        let (fd, port) = try FreePort.listen()
        defer { close(fd) }
        let spans = SpanExporter(endpoint: URL(string: "http://127.0.0.1:\(port)/v1/traces")!, instance: "test", timeout: .seconds(1))
        let system = try await InProcessLockstep(dags: [DagSpec(id: "unheard", tasks: [task("a"), task("b", after: ["a"])])], spans: spans)
        system.start()
        let runID = try await system.trigger("unheard")
        let run = try await system.waitForRun(runID)
        #expect(run.state == .succeeded)
        #expect(spans.statistics.exported == 0, "the collector never answered, yet the run finished")
        // Each post gives up at its deadline; its spans are dropped and counted.
        try await poll("the unanswered posts to reach their deadline", timeout: .seconds(15)) {
            let stats = spans.statistics
            return stats.dropped >= 3 && stats.queued == 0 && !stats.posting
        }
        let stats = spans.statistics
        #expect(stats.failedPosts >= 1 && stats.exported == 0, "\(stats)")
        await system.close()
    }
}
