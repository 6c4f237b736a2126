import Foundation
import LockstepTestSupport
import Testing

/// `lockstep standalone` in one process, `lockstep trigger --wait` in another, on one data directory.
@Suite struct TriggerCommandTests {
    @Test func triggerWaitFollowsTheRunAndExitsWithItsOutcome() async throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-cli-trigger")
        defer { try? FileManager.default.removeItem(at: dir) }
        let dags = dir.appendingPathComponent("dags")
        try FileManager.default.createDirectory(at: dags, withIntermediateDirectories: true)
        try """
            id: fine
            tasks:
              - {id: first, operator: noop}
              - {id: second, operator: noop, upstream: [first]}
            """.write(to: dags.appendingPathComponent("fine.yaml"), atomically: true, encoding: .utf8)
        try """
            id: broken
            tasks:
              - {id: only, operator: fail, params: {message: "no data today", retryable: false}}
            """.write(to: dags.appendingPathComponent("broken.yaml"), atomically: true, encoding: .utf8)
        // `fail` lives in the testing pack, which a deployment loads only when it says so.
        let config = dir.appendingPathComponent("lockstep.yaml")
        try "packs: [testing]\n".write(to: config, atomically: true, encoding: .utf8)
        let common = ["--config", config.path, "--dags", dags.path, "--data-dir", dir.appendingPathComponent("data").path]
        let standalone = try ManagedProcess(
            name: "standalone", executable: TestPaths.lockstepExecutable.path, arguments: ["standalone", "--no-scheduler"] + common)
        defer { standalone.stop() }

        let ok = try CLI.run(["trigger", "fine", "--wait", "--timeout", "60"] + common)
        #expect(ok.status == 0, "\(ok.stdout)\n\(ok.stderr)\n\(standalone.log)")
        #expect(ok.stdout.contains("task.succeeded") && ok.stdout.contains("second") && ok.stdout.contains("run.succeeded"))

        let failed = try CLI.run(["trigger", "broken", "--wait", "--timeout", "60"] + common)
        #expect(failed.status == 1, "\(failed.stdout)\n\(failed.stderr)")
        #expect(failed.stdout.contains("task.failed") && failed.stdout.contains("no data today") && failed.stdout.contains("run.failed"))

        let runs = try CLI.run(["runs"] + common)
        #expect(runs.stdout.contains("FAILED") && runs.stdout.contains("cause: only failed after 1 try: no data today"))
        #expect(runs.stdout.contains("SUCCEEDED"))
    }

    @Test func aConfThatBreaksTheParamsIsRefusedAtTheDoorNamingTheParamAndType() throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-cli-refused")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data")
        let refused = try CLI.run(["trigger", "recommender_training_pipeline", "--conf", #"{"model_type": 5}"#, "--data-dir", data.path])
        #expect(refused.status == 2, "\(refused.stdout)\n\(refused.stderr)")
        #expect(refused.stderr.contains("param `model_type` must be string, not the integer 5"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("Usage:"), "\(refused.stderr)")
        #expect(!refused.stdout.contains("requested run"))

        let unknown = try CLI.run(["trigger", "nope", "--data-dir", data.path])
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown DAG `nope`") && !unknown.stderr.contains("Usage:"), "\(unknown.stderr)")

        // Nothing reached the bus: the coordinator would have nothing to refuse.
        let requests = try CLI.run(["replay", "--topic", "lockstep.runs.requests", "--from", "1970-01-01T00:00:00Z", "--dry-run", "--data-dir", data.path])
        let nothingPublished = requests.stdout.contains("0 runs would be replayed")
            || requests.stderr.contains("topic 'lockstep.runs.requests' does not exist")
        #expect(nothingPublished, "\(requests.stdout)\n\(requests.stderr)")
    }
}
