import Foundation
import LockstepTestKit
import LockstepTestSupport
import Testing

/// A component process's own `--metrics HOST:PORT`: the real `lockstep` binary, scraped over
/// loopback and read with a real Prometheus parser.
@Suite(.serialized) struct ComponentMetricsTests {
    @Test func aStandaloneProcessCountsItsAttemptsCommitsAndResourcesOnItsOwnEndpoint() async throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-component-metrics")
        defer { try? FileManager.default.removeItem(at: dir) }
        let dags = dir.appendingPathComponent("dags")
        try FileManager.default.createDirectory(at: dags, withIntermediateDirectories: true)
        try """
            id: counted
            tasks:
              - {id: first, operator: noop}
              - {id: second, operator: noop, upstream: [first]}
            """.write(to: dags.appendingPathComponent("counted.yaml"), atomically: true, encoding: .utf8)
        let common = ["--dags", dags.path, "--data-dir", dir.appendingPathComponent("data").path]
        let port = try FreePort.next()
        let standalone = try ManagedProcess(
            name: "standalone-metrics", executable: TestPaths.lockstepExecutable.path,
            arguments: ["standalone", "--no-scheduler", "--no-http", "--metrics", "127.0.0.1:\(port)"] + common)
        defer { standalone.stop() }
        try await standalone.waitUntilAccepting(port: port)
        let client = APIClient(base: URL(string: "http://127.0.0.1:\(port)")!)

        let before = try await Prometheus.parse(try await client.get("/metrics").text)
        #expect(before[#"lockstep_worker_attempts_total{component="worker",outcome="succeeded",queue="tasks"}"#] == nil)
        #expect((before["process_resident_memory_bytes"] ?? 0) > 1_000_000, "\(before)")
        #expect((before["process_open_fds"] ?? 0) > 0)
        #expect(before.keys.contains { $0.hasPrefix("lockstep_build_info{version=") })

        let trigger = try ManagedProcess(
            name: "trigger-metrics", executable: TestPaths.lockstepExecutable.path,
            arguments: ["trigger", "counted", "--wait", "--timeout", "60"] + common)
        try await poll("the triggered run to finish", timeout: .seconds(90)) { !trigger.isRunning }
        #expect(trigger.process.terminationStatus == 0, "\(trigger.log)\n\(standalone.log)")

        let scrape = try await client.get("/metrics")
        #expect(scrape.contentType.hasPrefix("text/plain; version=0.0.4"))
        let after = try await Prometheus.parse(scrape.text)
        #expect(after[#"lockstep_worker_attempts_total{component="worker",outcome="succeeded",queue="tasks"}"#] == 2, "\(after)")
        #expect(after[#"lockstep_worker_attempt_duration_seconds_count{component="worker",queue="tasks"}"#] == 2)
        #expect((after["lockstep_coordinator_commit_duration_seconds_count"] ?? 0) >= 3, "a commit per step of the run")
        #expect((after["lockstep_coordinator_batch_events_sum"] ?? 0) >= 6, "run and task events at least")
        #expect(after[#"lockstep_component_waiting{component="coordinator"}"#] == 0)
        #expect(after[#"lockstep_component_attempts_held{component="worker"}"#] == 0)
        #expect(!after.keys.contains { $0.contains("counted~") }, "no run ids in labels")
        #expect((after["process_cpu_seconds_total"] ?? 0) > 0)

        let health = try await client.get("/health")
        #expect(health.status == 200, "\(health.text)")
        #expect(health.text.contains("coordinator: running"), "\(health.text)")
    }

    @Test func anAddressThatIsNotHostAndPortIsRefusedNamingTheFlag() async throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-component-metrics-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let worker = try ManagedProcess(
            name: "worker-bad-metrics", executable: TestPaths.lockstepExecutable.path,
            arguments: ["worker", "--metrics", "localhost", "--data-dir", dir.path])
        try await poll("the worker to refuse its flag", timeout: .seconds(30)) { !worker.isRunning }
        #expect(worker.process.terminationStatus != 0)
        #expect(worker.log.contains("--metrics localhost is not HOST:PORT"), "\(worker.log)")
    }
}
