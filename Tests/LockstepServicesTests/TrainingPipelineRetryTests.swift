import Foundation
import LockstepBus
import LockstepCore
import LockstepServices
import LockstepTestKit
import LockstepTestSupport
import Testing

/// The seed's training pipeline, from its own DAG file, on real PostgreSQL and a real FastAPI, with the
/// test clock: its retry policy (retries 2, retry_delay 5m) plays out in clock time, not wall time.
@Suite(.serialized) struct TrainingPipelineRetryTests {
    @Test func theHealthCheckFailsTwiceAndTheThirdTryStartsTenClockMinutesAfterTheFirst() async throws {
        let cluster = try await PostgresCluster.shared()
        // A FastAPI of its own: it answers its first two requests (the first two health checks) with 503.
        let fastapi = try await FastAPIService.start(environment: ["FASTAPI_FAIL_STATUS": "503", "FASTAPI_FAIL_COUNT": "2"])
        defer { fastapi.stop() }
        let root = TestPaths.packageRoot
        let deployment = try SeedDeployment.load(
            root: root, variables: ["FASTAPI_BASE_URL": fastapi.baseURL, "ML_DIR": root.appendingPathComponent("ml").path],
            connections: ["noblestride_postgres": cluster.uri()])
        let (config, dags) = (deployment.config, deployment.dags)
        let training = try #require(dags.first { $0.id == "recommender_training_pipeline" })
        let policy = try #require(training.task("check_fastapi_health")?.retry)
        #expect(policy.retries == 2 && policy.delay == .seconds(300), "the seed's policy, read from its file")

        let clock = TestClock()
        let system = try await InProcessLockstep(dags: dags, config: config, clock: clock)
        // One consumer slot per group: a rebalance could otherwise park a redelivered command behind
        // a claim until the test clock next moves.
        system.start(workers: 1)
        let wall = ContinuousClock.now
        let runID = try await system.trigger("recommender_training_pipeline", idempotencyKey: "clocked-retries")
        for failed in 1...2 {
            let run = try await system.waitForTask(runID, "check_fastapi_health", try: failed, .upForRetry)
            #expect(run.tasks["check_fastapi_health"]?.retryAt == clock.now.addingTimeInterval(300))
            clock.advance(by: policy.delay)
        }
        let run = try await system.waitForRun(runID)
        let elapsed = ContinuousClock.now - wall
        await system.close()
        print("training pipeline, health check failing twice with 5-minute retries on the test clock: \(elapsed) of wall time from trigger to finished")

        #expect(run.state == .succeeded, "\(run.state): \(run.failure ?? "")")
        let check = try #require(run.tasks["check_fastapi_health"])
        #expect(check.attempts.map(\.outcome) == [.failed, .failed, .succeeded])
        #expect(check.attempts.first?.error?.message.contains("503") == true, "\(String(describing: check.attempts.first?.error))")
        let starts = check.attempts.compactMap(\.startedAt)
        #expect(starts.count == 3)
        #expect(starts.map { $0.timeIntervalSince(TestClock.defaultStart) } == [0, 300, 600], "two 5-minute delays, in clock time")
        for task in ["extract_data", "preprocess_data", "train_model", "notify_training_complete"] {
            #expect(run.tasks[task]?.state == .succeeded, "\(task): \(String(describing: run.tasks[task]?.state))")
        }
        // The notifier delivered training-complete to FastAPI once the model was trained.
        let received = try await fastapi.received()
        #expect(received["items"]?.arrayValue?.count == 1, "\(received)")
    }
}
