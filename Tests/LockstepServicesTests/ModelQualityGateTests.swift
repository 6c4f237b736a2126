import Foundation
import LockstepCore
import LockstepServices
import LockstepTestKit
import LockstepTestSupport
import LockstepWire
import Testing

/// The seed's training pipeline with the real trainer (ml/train.py as a `command` task) and its
/// quality gate, on a real PostgreSQL and a real FastAPI: a model that beats the baselines is announced
/// with its metrics; one trained on data with nothing to learn never reaches FastAPI.
@Suite(.serialized) struct ModelQualityGateTests {
    /// The repository's config and DAGs, pointed at `database` on the test cluster and at `fastapi`.
    static func system(database: String, fastapi: FastAPIService) async throws -> InProcessLockstep {
        let cluster = try await PostgresCluster.shared()
        let root = TestPaths.packageRoot
        let deployment = try SeedDeployment.load(
            root: root, variables: ["FASTAPI_BASE_URL": fastapi.baseURL, "ML_DIR": root.appendingPathComponent("ml").path],
            connections: ["noblestride_postgres": cluster.uri(database: database)])
        let (config, dags) = (deployment.config, deployment.dags)
        return try await InProcessLockstep(dags: dags.filter { $0.id == "recommender_training_pipeline" }, config: config)
    }

    @Test func aModelThatBeatsTheBaselinesIsAnnouncedWithItsMetrics() async throws {
        let fastapi = try await FastAPIService.start()
        defer { fastapi.stop() }
        let system = try await Self.system(database: "noblestride", fastapi: fastapi)
        system.start(workers: 1)
        let runID = try await system.trigger("recommender_training_pipeline", idempotencyKey: "real-model")
        let run = try await system.waitForRun(runID, timeout: .seconds(120))
        let models = try await system.events(on: system.runtime.topics.modelEvents) { !$0.isEmpty }
        await system.close()

        #expect(run.state == .succeeded, "\(run.state): \(run.failure ?? "")")
        let trained = try #require(run.tasks["train_model"]?.output)
        // The seed's XCom keys are still there for whatever read them downstream.
        #expect(trained["investors_count"]?.intValue == 75 && trained["businesses_count"]?.intValue == 150, "\(trained)")
        let version = try #require(trained["model_version"]?.stringValue)
        #expect(version.hasPrefix("v") && version.count == "vYYYYMMDD_HHMMSS".count)
        let hr = try #require(trained["metrics"]?["hr_at_10"]?.doubleValue)
        let popularity = try #require(trained["baseline"]?["popularity"]?["hr_at_10"]?.doubleValue)
        #expect(hr >= 2 * popularity, "model \(hr) vs popularity \(popularity)")

        let items = try await fastapi.received()["items"]?.arrayValue ?? []
        #expect(items.count == 1, "\(items)")
        let payload = try #require(items.first?["payload"] ?? items.first)
        for field in ["model_type", "training_samples", "training_timestamp", "model_version"] {
            #expect(payload[field] != nil, "FastAPI's payload lacks the seed's `\(field)`: \(payload)")
        }
        #expect(payload["metrics"]?["hr_at_10"]?.doubleValue == hr, "\(payload)")
        #expect(payload["baseline"]?["popularity"]?["hr_at_10"]?.doubleValue == popularity, "\(payload)")

        let announced = try #require(models.first { $0.type == EventType.modelTrained }?.data)
        #expect(announced["model_version"]?.stringValue == version)
        #expect(announced["metrics"]?["hr_at_10"]?.doubleValue == hr)
        #expect(announced["baseline"]?["random"]?["hr_at_10"] != nil)
        let artifact = try #require(announced["artifact_path"]?.stringValue)
        #expect(FileManager.default.fileExists(atPath: artifact), "\(artifact)")
    }

    @Test func onDataWithNothingToLearnTheGateFailsTheRunNamingMetricAndThresholdAndFastAPIHearsNothing() async throws {
        let cluster = try await PostgresCluster.shared()
        // The same counts, interactions shuffled across investors: popularity survives, content does not.
        let degraded = FileManager.default.temporaryDirectory.appendingPathComponent("noblestride-degraded-\(UUID().uuidString.prefix(8)).sql")
        let generator = Process()
        generator.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        generator.arguments = ["python3", TestPaths.packageRoot.appendingPathComponent("ml/generate_sample_data.py").path,
                               "--seed", "7", "--shuffle-interactions", "--output", degraded.path]
        try generator.run()
        generator.waitUntilExit()
        #expect(generator.terminationStatus == 0)
        let database = "noblestride_degraded_\(UUID().uuidString.prefix(6).lowercased())"
        try cluster.psql("CREATE DATABASE \(database)")
        try cluster.runFile(TestPaths.packageRoot.appendingPathComponent("examples/noblestride/schema.sql"), database: database)
        try cluster.runFile(degraded, database: database)

        let fastapi = try await FastAPIService.start()
        defer { fastapi.stop() }
        let system = try await Self.system(database: database, fastapi: fastapi)
        system.start(workers: 1)
        let runID = try await system.trigger("recommender_training_pipeline", idempotencyKey: "degraded")
        let run = try await system.waitForRun(runID, timeout: .seconds(120))
        await system.close()

        #expect(run.state == .failed)
        #expect(run.tasks["train_model"]?.state == .succeeded)
        let gate = try #require(run.tasks["quality_gate"])
        #expect(gate.state == .failed && gate.attempts.count == 1, "a model that fell short is not retried: \(gate.attempts.count) tries")
        let cause = gate.attempts.last?.error?.message ?? ""
        #expect(cause.contains("quality gate failed") && cause.contains("lift over popularity") && cause.contains("required"), "\(cause)")
        #expect(run.tasks["notify_training_complete"]?.state == .upstreamFailed)
        let received = try await fastapi.received()["items"]?.arrayValue ?? []
        #expect(received.isEmpty, "FastAPI must not hear of a model that failed the gate: \(received)")
    }
}
