import Foundation
import LockstepTestSupport
import Testing

/// `lockstep logs` as a user runs it, against lines a worker stored in PostgreSQL (written here with
/// psql, as another process would), and live beside a real `lockstep standalone` running a command.
@Suite struct LogsCommandTests {
    let run = "train~nightly"
    let task = "train_model"

    @Test func showsTheNewestTryByDefaultAndAnyTryWithGrepOrTail() async throws {
        let (cluster, database, state) = try await Self.migratedDatabase("cli_logs")
        try Self.insert(cluster, database, run: run, task: task, try: 1, lines: (1...5).map { (Int64($0), "stdout", "try one line \($0)") })
        try Self.insert(cluster, database, run: run, task: task, try: 2, lines: [(1, "stdout", "loading 1247 users"), (2, "stderr", "warning: 3 users without feedback"), (3, "operator", "trained model v2")])

        let newest = try CLI.run(["logs", run, task] + state)
        #expect(newest.status == 0, "\(newest.stderr)")
        let lines = newest.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(newest.stdout)")
        #expect(lines[1].hasSuffix(" stderr   warning: 3 users without feedback"), "\(lines[1])")
        #expect(lines[2].contains(" operator trained model v2"))

        let grepped = try CLI.run(["logs", run, task, "--try", "1", "--grep", "line 3"] + state)
        #expect(grepped.stdout.split(separator: "\n").map { $0.hasSuffix("try one line 3") } == [true], "\(grepped.stdout)")

        let tail = try CLI.run(["logs", run, task, "--try", "1", "--tail", "2"] + state)
        #expect(tail.stdout.split(separator: "\n").map { String($0.suffix(6)) } == ["line 4", "line 5"], "\(tail.stdout)")

        let none = try CLI.run(["logs", run, task, "--try", "3"] + state)
        #expect(none.status == 0 && none.stdout.isEmpty && none.stderr.contains("no log lines for \(run)/\(task)#3"), "\(none.stderr)")

        let unknown = try CLI.run(["logs", "no-such-run", task] + state)
        #expect(unknown.status == 2 && unknown.stderr.contains("no run `no-such-run`") && !unknown.stderr.contains("Usage"), "\(unknown.stderr)")
        #expect(!unknown.stderr.contains(PostgresCluster.password))
    }

    @Test func followPrintsNewLinesAsTheyAreStoredAndExitsWhenTheAttemptHasFinished() async throws {
        let (cluster, database, state) = try await Self.migratedDatabase("cli_follow")
        try Self.insert(cluster, database, run: run, task: task, try: 1, lines: [(1, "stdout", "epoch 1")])
        let follower = try ManagedProcess(
            name: "logs-follow", executable: TestPaths.lockstepExecutable.path, arguments: ["logs", run, task, "--try", "1", "--follow"] + state)
        defer { follower.stop() }

        try await Self.poll("the first line", follower) { follower.log.contains("epoch 1") }
        try Self.insert(cluster, database, run: run, task: task, try: 1, lines: [(2, "stdout", "epoch 2"), (3, "stderr", "epoch 3 slow")])
        try await Self.poll("lines stored after it started", follower) { follower.log.contains("epoch 3 slow") }
        #expect(follower.isRunning, "it must wait for the attempt to finish: \(follower.log)")

        // The worker stores its last lines, then the attempt's result.
        try Self.insert(cluster, database, run: run, task: task, try: 1, lines: [(4, "operator", "done")])
        try cluster.psql("INSERT INTO lockstep_attempts (attempt_id, event, recorded_at_ms) VALUES ('\(run)/\(task)#1', '{}', 0)", database: database)
        try await Self.poll("the follower to exit", follower) { !follower.isRunning }
        #expect(follower.process.terminationStatus == 0, "\(follower.log)")
        let printed = follower.log.split(separator: "\n").filter { $0.contains("epoch") || $0.hasSuffix(" done") }
        #expect(printed.count == 4 && printed.last?.hasSuffix("operator done") == true, "\(follower.log)")
        #expect(follower.log.contains("\(run)/\(task)#1 has finished"))
    }

    /// A real `command` task run by a real `lockstep standalone`: its first line is printed by the
    /// follower while the program still waits for the test, and the follower ends by itself once the
    /// attempt has finished.
    @Test func followShowsARunningCommandsLinesBeforeItEndsAndExitsWhenItHasFinished() async throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-cli-follow-live")
        defer { try? FileManager.default.removeItem(at: dir) }
        let release = dir.appendingPathComponent("release")
        // Let the program go at the end whatever happened, so no shell outlives the test.
        defer { _ = FileManager.default.createFile(atPath: release.path, contents: nil) }
        let dags = dir.appendingPathComponent("dags")
        try FileManager.default.createDirectory(at: dags, withIntermediateDirectories: true)
        // The program prints, then waits for the file the test creates (its own poll, not the test's wait).
        try """
            id: chatty
            tasks:
              - id: talk
                operator: command
                params:
                  shell: true
                  argv: 'echo "first line"; while [ ! -e "$RELEASE" ]; do sleep 0.05; done; echo "later line" >&2'
                  env: {RELEASE: "\(release.path)"}
            """.write(to: dags.appendingPathComponent("chatty.yaml"), atomically: true, encoding: .utf8)
        let config = dir.appendingPathComponent("lockstep.yaml")
        try "packs: []\n".write(to: config, atomically: true, encoding: .utf8)
        let common = ["--config", config.path, "--dags", dags.path, "--data-dir", dir.appendingPathComponent("data").path]
        let standalone = try ManagedProcess(
            name: "standalone", executable: TestPaths.lockstepExecutable.path, arguments: ["standalone", "--no-scheduler"] + common)
        defer { standalone.stop() }

        let triggered = try CLI.run(["trigger", "chatty", "--idempotency-key", "live"] + common)
        #expect(triggered.status == 0, "\(triggered.stderr)\n\(standalone.log)")
        let run = "chatty~live"
        // Started before the run may even exist: following waits for the task's first try.
        let follower = try ManagedProcess(
            name: "logs-follow-live", executable: TestPaths.lockstepExecutable.path,
            arguments: ["logs", run, "talk", "--follow", "--data-dir", dir.appendingPathComponent("data").path])
        defer { follower.stop() }

        try await Self.poll("the first line while the command runs", follower) { follower.log.contains("stdout   first line") }
        // Still running: the program cannot have finished before the release file exists, and the
        // store says so too.
        let runs = try CLI.run(["runs", "--dag", "chatty", "--json"] + common)
        let state = try Self.taskState(runs.stdout, run: run, task: "talk")
        #expect(state == "running", "\(runs.stdout)\n\(standalone.log)")
        #expect(follower.isRunning && !follower.log.contains("stderr   later line"), "\(follower.log)")

        _ = FileManager.default.createFile(atPath: release.path, contents: nil)
        try await Self.poll("the follower to exit by itself", follower) { !follower.isRunning }
        #expect(follower.process.terminationStatus == 0, "\(follower.log)")
        let printed = follower.log.split(separator: "\n").filter { $0.hasSuffix("   first line") || $0.hasSuffix("   later line") }
        #expect(printed.count == 2 && printed.last?.hasSuffix("stderr   later line") == true, "\(follower.log)")
        #expect(follower.log.contains("\(run)/talk#1 has finished"), "\(follower.log)")
        let after = try CLI.run(["runs", "--dag", "chatty", "--json"] + common)
        #expect(try Self.taskState(after.stdout, run: run, task: "talk") == "succeeded", "\(after.stdout)")
    }

    @Test func pruneDeletesOldAttemptsLogsAndRefusesANonDuration() async throws {
        let (cluster, database, state) = try await Self.migratedDatabase("cli_prune")
        let old = Int64(Date().addingTimeInterval(-40 * 86_400).timeIntervalSince1970 * 1000)
        try Self.insert(cluster, database, run: "old~1", task: task, try: 1, lines: [(1, "stdout", "a"), (2, "stdout", "b")], timeMs: old)
        try Self.insert(cluster, database, run: run, task: task, try: 1, lines: [(1, "stdout", "recent")])

        let pruned = try CLI.run(["logs", "prune", "--older-than", "30d"] + state)
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(pruned.stdout.contains("pruned 2 log lines of 1 attempts"), "\(pruned.stdout)")
        #expect(try cluster.psql("SELECT run_id || ':' || count(*) FROM lockstep_task_logs GROUP BY run_id", database: database) == "\(run):1")

        let bad = try CLI.run(["logs", "prune", "--older-than", "a month"] + state)
        #expect(bad.status == 2 && bad.stderr.contains("--older-than `a month` is not a duration") && bad.stderr.contains("30d"), "\(bad.stderr)")
    }

    // MARK: Helpers

    static func migratedDatabase(_ prefix: String) async throws -> (PostgresCluster, String, [String]) {
        let cluster = try await PostgresCluster.shared()
        let database = try CLIDatabases.fresh(cluster, prefix)
        let state = ["--state", cluster.uri(database: database)]
        let migrated = try CLI.run(["migrate"] + state)
        guard migrated.status == 0 else { throw TestSupportError("migrate failed: \(migrated.stderr)") }
        return (cluster, database, state)
    }

    static func insert(
        _ cluster: PostgresCluster, _ database: String, run: String, task: String, try tryNumber: Int,
        lines: [(Int64, String, String)], timeMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)
    ) throws {
        let values = lines.map { "('\(run)', '\(task)', \(tryNumber), \($0.0), \(timeMs + $0.0), '\($0.1)', '\($0.2)')" }
        try cluster.psql("INSERT INTO lockstep_task_logs (run_id, task_id, try_number, seq, time_ms, stream, text) VALUES \(values.joined(separator: ", "))", database: database)
    }

    /// The state of `task` in `run`, from `lockstep runs --json`.
    static func taskState(_ json: String, run: String, task: String) throws -> String? {
        let runs = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] ?? []
        let found = runs.first { $0["id"] as? String == run }
        return ((found?["tasks"] as? [String: Any])?[task] as? [String: Any])?["state"] as? String
    }

    static func poll(_ what: String, _ process: ManagedProcess, timeout: Duration = .seconds(30), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TestSupportError("timed out waiting for \(what):\n\(process.log)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
