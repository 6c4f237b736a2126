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
        let common = ["--config", TestPaths.packageRoot.appendingPathComponent("config/lockstep.yaml").path,
                      "--dags", dags.path, "--data-dir", dir.appendingPathComponent("data").path]
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
}
