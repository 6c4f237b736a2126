import Foundation
import LockstepCore
import LockstepOperators
import LockstepTestSupport
import Testing

/// The training DAG's tail: preprocess → train_model → notify_training_complete, with the real FastAPI service.
@Suite("Training operators")
struct TrainingPipelineTests {
    static let extract: JSONValue = ["investors_count": 75, "businesses_count": 150]

    @Test("preprocess: totals, metadata and a data summary from extract_data")
    func preprocess() async throws {
        let result = try await expectSuccess("preprocess", try makeContext(task: "preprocess_data", upstream: ["extract_data": Self.extract]))
        #expect(result.output["total_records"] == 225)
        #expect(result.output["investors_count"] == 75)
        #expect(result.output["businesses_count"] == 150)
        #expect(result.output["preprocessing"]?["completed_at"] == "2025-09-18T02:00:05.250Z")
        #expect(result.output["preprocessing"]?["steps"]?.arrayValue?.count == 4)
        #expect(result.output["data_summary"]?["entities"] == ["investors": 75, "businesses": 150])
        #expect(result.output["data_summary"]?["largest_entity"] == "businesses")
        #expect(result.output["data_summary"]?["ready_for_training"] == true)
    }

    @Test("preprocess without its upstream output is an input error, not retryable")
    func preprocessMissingInput() async throws {
        let error = try await expectFailure("preprocess", try makeContext())
        #expect(error.category == .input && !error.retryable)
        #expect(error.message.contains("extract_data"))
    }

    @Test("train_model: the seed's metadata, a versioned artifact written atomically, a model.trained event")
    func train() async throws {
        let data = try TestPaths.temporaryDirectory("lockstep-train")
        let upstream: [String: JSONValue] = ["extract_data": Self.extract, "preprocess_data": ["total_records": 225]]
        let result = try await expectSuccess("train_model", try makeContext(task: "train_model", params: ["model_type": "recommendation_model"],
                                                                             upstream: upstream, dataDirectory: data))
        #expect(result.output["model_type"] == "recommendation_model")
        #expect(result.output["training_samples"] == 225)
        #expect(result.output["model_version"] == "v20250918_020000")
        #expect(result.output["training_timestamp"] == "2025-09-18T02:00:05.250Z")
        let path = try #require(result.output["artifact_path"]?.stringValue)
        #expect(path == data.appendingPathComponent("models/v20250918_020000.json").path)
        let stored = try JSONValue.parse(String(contentsOfFile: path, encoding: .utf8))
        #expect(stored["model_version"] == "v20250918_020000")
        #expect(stored["training_samples"] == 225)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: data.appendingPathComponent("models").path)
        #expect(leftovers == ["v20250918_020000.json"], "no temporary files left behind")
        #expect(result.events.map(\.kind) == [.modelTrained])
        #expect(result.events.first?.data["artifact_path"]?.stringValue == path)
    }

    @Test("notify_training_complete: FastAPI receives the metadata once, keyed by dag/run/task across retries")
    func notify() async throws {
        let fastapi = try await FastAPIService.shared()
        let run = "scheduled__2025-09-18-\(UInt32.random(in: 0...UInt32.max))"
        let trained: JSONValue = ["model_type": "recommendation_model", "training_samples": 225,
                                  "training_timestamp": "2025-09-18T02:00:05.250Z", "model_version": "v20250918_020000",
                                  "artifact_path": "/tmp/x.json"]
        func attempt(_ tryNumber: Int) throws -> OperatorContext {
            try makeContext(dag: "recommender_training_pipeline", task: "notify_training_complete", run: run,
                            tryNumber: tryNumber, params: ["url": "{{ var.FASTAPI_BASE_URL }}/api/model/training-complete"],
                            upstream: ["train_model": trained], variables: ["FASTAPI_BASE_URL": fastapi.baseURL])
        }
        let first = try await expectSuccess("notify_training_complete", try attempt(1))
        #expect(first.output["status"] == "delivered")
        #expect(first.output["http_status"] == 200)
        #expect(first.output["duplicate"] == false)
        let second = try await expectSuccess("notify_training_complete", try attempt(2))
        #expect(second.output["duplicate"] == true, "a retry of the same task in the same run is dropped by the receiver")
        #expect(second.output["idempotency_key"] == first.output["idempotency_key"])

        let key = try #require(first.output["idempotency_key"]?.stringValue)
        #expect(key == "lockstep:recommender_training_pipeline:\(run):notify_training_complete")
        let received = try await fastapi.received(idempotencyKey: key)
        #expect(received.count == 1)
        let item = try #require(received.first)
        #expect(item["kind"] == "model_metadata")
        #expect(item["payload"] == ["model_type": "recommendation_model", "training_samples": 225,
                                    "training_timestamp": "2025-09-18T02:00:05.250Z", "model_version": "v20250918_020000"])
    }

    @Test("notify_training_complete: a 500 then success is retried inside the attempt")
    func notifyRecovers() async throws {
        let fastapi = try await FastAPIService.start()
        defer { fastapi.stop() }
        try await fastapi.control(["fail_status": 500, "fail_count": 1])
        let result = try await expectSuccess("notify_training_complete", try notifyContext(fastapi.baseURL, ["backoff": 0.1]))
        #expect(result.output["attempts"] == 2)
        #expect(try await fastapi.received()["count"] == 1)
    }

    @Test("notify_training_complete: persistent 500 gives up after max_attempts, retryable")
    func notify500() async throws {
        let fastapi = try await FastAPIService.start(environment: ["FASTAPI_FAIL_STATUS": "500"])
        defer { fastapi.stop() }
        let error = try await expectFailure("notify_training_complete", try notifyContext(fastapi.baseURL, ["max_attempts": 3, "backoff": 0.1]))
        #expect(error.category == .httpStatus(500))
        #expect(error.retryable)
        #expect(try await fastapi.received()["requests"] == 3)
    }

    @Test("notify_training_complete: a 4xx other than 408/429 is not retried and not retryable")
    func notify4xx() async throws {
        let fastapi = try await FastAPIService.start()
        defer { fastapi.stop() }
        try await fastapi.control(["fail_status": 400])
        let error = try await expectFailure("notify_training_complete", try notifyContext(fastapi.baseURL, ["max_attempts": 3, "backoff": 0.1]))
        #expect(error.category == .httpStatus(400))
        #expect(!error.retryable)
        #expect(try await fastapi.received()["requests"] == 1)
    }

    @Test("notify_training_complete: 429 is retried")
    func notify429() async throws {
        let fastapi = try await FastAPIService.start()
        defer { fastapi.stop() }
        try await fastapi.control(["fail_status": 429])
        let error = try await expectFailure("notify_training_complete", try notifyContext(fastapi.baseURL, ["max_attempts": 2, "backoff": 0.1]))
        #expect(error.category == .httpStatus(429) && error.retryable)
        #expect(try await fastapi.received()["requests"] == 2)
    }

    @Test("notify_training_complete: a slow FastAPI times out per request, retryable")
    func notifySlow() async throws {
        let fastapi = try await FastAPIService.start()
        defer { fastapi.stop() }
        try await fastapi.control(["delay_seconds": 5])
        let error = try await expectFailure("notify_training_complete",
                                            try notifyContext(fastapi.baseURL, ["timeout": 1, "max_attempts": 1]))
        #expect(error.category == .timeout && error.retryable)
    }

    @Test("notify_training_complete: a server that never answers stops at the task deadline")
    func notifySilent() async throws {
        let silent = try SilentServer()
        let error = try await expectFailure("notify_training_complete",
                                            try notifyContext(silent.baseURL, ["timeout": 30, "max_attempts": 5, "backoff": 0.1], deadline: .seconds(2)))
        #expect(error.category == .timeout && error.retryable)
        withExtendedLifetime(silent) {}
    }

    @Test("notify_training_complete: FastAPI down is unavailable, retryable")
    func notifyDown() async throws {
        let port = try ClosedPort.next()
        let error = try await expectFailure("notify_training_complete",
                                            try notifyContext("http://127.0.0.1:\(port)", ["max_attempts": 2, "backoff": 0.05]))
        #expect(error.category == .unavailable && error.retryable)
        #expect(error.message.contains("after 2 attempts"))
    }

    private func notifyContext(_ base: String, _ extra: [String: JSONValue], deadline: Duration = .seconds(60)) throws -> OperatorContext {
        var params: [String: JSONValue] = ["url": "\(base)/api/model/training-complete"]
        params.merge(extra) { _, new in new }
        return try makeContext(task: "notify_training_complete", params: params, upstream: ["train_model": [
            "model_type": "recommendation_model", "training_samples": 225,
            "training_timestamp": "2025-09-18T02:00:05.250Z", "model_version": "v20250918_020000",
        ]], timeout: deadline)
    }
}
