import Foundation
import LockstepBus
import LockstepCore
import LockstepServices
import LockstepTestSupport
import LockstepWire
import Testing

/// The real `lockstep` binary as separate processes — scheduler, coordinator, two workers, notifier —
/// on a Kafka-protocol broker (Tansu), with state in PostgreSQL, against the reference FastAPI and
/// Node.js services and the Noblestride sample database. Runs are started only by publishing run
/// requests; outcomes are read from the state store, the topics and the services.
///
/// Serialized: one system is shared and some tests kill its components or make FastAPI unhealthy.
/// No test asserts a wall-clock duration; each waits on a condition with a generous limit and fails
/// with every component's log.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct SystemTests {
    // MARK: 1. Both pipelines end to end

    @Test func bothPipelinesTriggeredByRunRequestsSucceedEndToEnd() async throws {
        let system = try await SystemCluster.shared()
        try await system.prepare()
        defer { system.expectNoCrashes() }
        // `lockstep trigger` publishes `lockstep.run.requested` on lockstep.runs.requests, as any producer.
        let training = try await system.trigger(SystemDags.training, key: SystemCluster.uniqueKey("train"))
        let integration = try await system.trigger(SystemDags.integration, key: SystemCluster.uniqueKey("integ"))
        let runs = try await system.waitForRuns([training, integration])
        let trainingRun = runs[0], integrationRun = runs[1]
        let logs = { system.diagnostics() }
        try #require(trainingRun.state == .succeeded, "training run: \(trainingRun.failure ?? "-")\n\(logs())")
        try #require(integrationRun.state == .succeeded, "integration run: \(integrationRun.failure ?? "-")\n\(logs())")
        for run in runs {
            for task in run.tasks.values {
                #expect(task.state == .succeeded && task.tryNumber == 1, "\(run.id) \(task.taskID): \(task.state) try \(task.tryNumber)")
            }
        }

        // FastAPI recorded exactly one training-complete for the run: the seed's four fields, and the
        // real trainer's held-out metrics beside the baselines'.
        let delivered = try await system.fastapi.received(
            idempotencyKey: idempotencyKey(dag: SystemDags.training, run: training, task: "notify_training_complete"))
        try #require(delivered.count == 1, "training-complete deliveries for \(training): \(delivered)")
        #expect(delivered[0]["kind"]?.stringValue == "model_metadata")
        let payload = try #require(delivered[0]["payload"]?.objectValue)
        #expect(Set(payload.keys) == ["model_type", "training_samples", "training_timestamp", "model_version", "metrics", "baseline"])
        #expect(payload["metrics"]?["hr_at_10"]?.doubleValue != nil && payload["baseline"]?["popularity"]?["hr_at_10"]?.doubleValue != nil)
        #expect(payload["model_type"]?.stringValue == "recommendation_model")
        let samples = try #require(payload["training_samples"]?.intValue)
        #expect(samples > 0)
        let version = try #require(payload["model_version"]?.stringValue)
        #expect(version.wholeMatch(of: /v\d{8}_\d{6}/) != nil, "model_version \(version)")
        let timestamp = try #require(payload["training_timestamp"]?.stringValue)
        #expect(ISO8601.parse(timestamp) != nil, "training_timestamp \(timestamp)")
        // What was POSTed is what the run's train_model produced.
        let trained = try #require(trainingRun.tasks["train_model"]?.output)
        #expect(trained["model_version"]?.stringValue == version)
        #expect(trained["training_samples"]?.intValue == samples)

        // The integration report: in the reports dir, with the seed's sections.
        let reportPath = try #require(integrationRun.tasks["generate_report"]?.output?["report_path"]?.stringValue)
        let reportURL = URL(fileURLWithPath: reportPath)
        #expect(reportURL.deletingLastPathComponent().standardizedFileURL.path == system.reportsDirectory.standardizedFileURL.path)
        #expect(reportURL.lastPathComponent.wholeMatch(of: /noblestride_integration_report_.*\.json/) != nil, "\(reportPath)")
        let listed = try FileManager.default.contentsOfDirectory(atPath: system.reportsDirectory.path)
        #expect(listed.contains(reportURL.lastPathComponent), "reports dir holds \(listed)")
        let report = try parseJSON(String(contentsOf: reportURL, encoding: .utf8), what: reportPath)
        for section in ["pipeline_execution", "service_health", "database_summary", "integration_status", "timestamps"] {
            #expect(report[section] != nil, "report \(reportPath) lacks `\(section)`")
        }
        // The sample database's counts made it into the report.
        #expect(report["database_summary"].map { "\($0)" }?.contains("1247") == true, "database_summary: \(String(describing: report["database_summary"]))")

        // Health results for both runs on lockstep.health.results.
        let health = try await system.events(on: system.topics.healthResults) { events in
            [training, integration].allSatisfy { run in events.contains { $0.data?["run_id"]?.stringValue == run } }
        }
        let trainingHealth = health.filter { $0.data?["run_id"]?.stringValue == training }
        let integrationHealth = health.filter { $0.data?["run_id"]?.stringValue == integration }
        #expect(trainingHealth.allSatisfy { $0.type == EventType.healthResult })
        #expect(trainingHealth.contains { $0.data?["status"]?.stringValue == "healthy" })
        #expect(Set(integrationHealth.compactMap(\.subject)) == ["nodejs_service", "fastapi_service"], "\(integrationHealth.map(\.subject))")
        #expect(integrationHealth.allSatisfy { $0.type == EventType.healthResult && $0.data?["status"]?.stringValue == "healthy" })

        // run.succeeded for both runs on lockstep.runs.events.
        let lifecycle = try await system.events(on: system.topics.runEvents) { events in
            [training, integration].allSatisfy { run in events.contains { $0.subject == run && $0.type == "lockstep.run.succeeded" } }
        }
        for run in [training, integration] {
            #expect(lifecycle.filter { $0.subject == run && $0.type == "lockstep.run.succeeded" }.count >= 1)
            #expect(!lifecycle.contains { $0.subject == run && $0.type == "lockstep.run.failed" })
        }

        // The trained model was announced too.
        let models = try await system.events(on: system.topics.modelEvents) { events in
            events.contains { $0.data?["run_id"]?.stringValue == training }
        }
        #expect(models.contains { $0.data?["run_id"]?.stringValue == training && $0.data?["model_version"]?.stringValue == version })

        // `lockstep runs --json` on the same PostgreSQL state shows both runs succeeded.
        let json = try parseJSON(try await system.runsCommand(["--json", "--limit", "100"]), what: "`lockstep runs --json`")
        let listedRuns = json.arrayValue ?? []
        for run in [training, integration] {
            let entry = listedRuns.first { $0["id"]?.stringValue == run }
            #expect(entry?["state"]?.stringValue == "succeeded", "`lockstep runs --json` entry for \(run): \(String(describing: entry))")
        }
    }

    // MARK: 2a. A worker killed during a task

    @Test func aWorkerKilledDuringATaskIsReplacedByTheOtherWorkerAndTheRunSucceeds() async throws {
        let system = try await SystemCluster.shared()
        try await system.prepare()
        defer { system.expectNoCrashes() }
        let run = try await system.requestRun(SystemDags.sleep)
        // Who holds `nap`: the worker named in its attempt.started event.
        let started = try await system.events(on: system.topics.taskResults, timeout: .seconds(120)) {
            $0.contains { isAttempt($0, EventType.attemptStarted, run: run, task: "nap") }
        }
        let holderID = try #require(started.first { isAttempt($0, EventType.attemptStarted, run: run, task: "nap") }?.data?["worker"]?.stringValue)
        let (holderName, _) = try #require(system.workerComponent(forWorkerID: holderID), "no worker process for \(holderID)")
        let survivorName = holderName == "worker-1" ? "worker-2" : "worker-1"
        let survivor = try #require(system.component(survivorName))
        system.kill9(holderName)

        let finished = try await system.waitForRun(run)
        try #require(finished.state == .succeeded, "run \(run): \(finished.state) \(finished.failure ?? "")\n\(system.diagnostics())")
        let nap = try #require(finished.tasks["nap"])
        // The same attempt (try 1) finished: no retry was spent on the crash.
        #expect(nap.tryNumber == 1 && nap.attempts.count == 1, "nap tries: \(nap.attempts)")
        #expect(nap.attempts.first?.outcome == .succeeded)

        let results = try await system.events(on: system.topics.taskResults) {
            $0.contains { isAttempt($0, EventType.attemptSucceeded, run: run, task: "nap") }
        }
        let napStarts = results.filter { isAttempt($0, EventType.attemptStarted, run: run, task: "nap") }.compactMap { $0.data?["worker"]?.stringValue }
        let napSuccesses = results.filter { isAttempt($0, EventType.attemptSucceeded, run: run, task: "nap") }
        // Started by the killed worker, then again (same try) by the survivor after the rebalance.
        #expect(napStarts.first == holderID)
        #expect(napStarts.count == 2, "nap started by \(napStarts)")
        #expect(napStarts.last.flatMap(SystemCluster.pid(ofWorkerID:)) == survivor.pid, "nap started by \(napStarts); survivor pid \(survivor.pid)")
        // Only the survivor finished it.
        #expect(Set(napSuccesses.map(\.source)).count == 1)
        #expect(napSuccesses.allSatisfy { $0.source.hasSuffix("-\(survivor.pid)") }, "\(napSuccesses.map(\.source))")
        #expect(finished.tasks["last"]?.state == .succeeded)
    }

    // MARK: 2b. The coordinator killed mid-run and restarted

    @Test func theCoordinatorKilledMidRunAndRestartedFinishesTheRunsRunningNoAttemptTwice() async throws {
        let system = try await SystemCluster.shared()
        try await system.prepare()
        defer { system.expectNoCrashes() }
        // FastAPI answers after 2 s, so the training run is still in progress when the coordinator dies.
        try await system.fastapi.control(["delay_seconds": 2])
        let requestsBefore = try await system.fastapi.received()["requests"]?.intValue ?? 0
        let training = try await system.requestRun(SystemDags.training, key: SystemCluster.uniqueKey("train-crash"))
        let sleeper = try await system.requestRun(SystemDags.sleep, key: SystemCluster.uniqueKey("sleep-crash"))
        // Kill as soon as the training run's health check is under way: it has ≥ 2 s to go, then three
        // more tasks and the (also 2 s) training-complete POST. The sleep run is somewhere in its
        // first → 3 s nap → last by then.
        _ = try await system.events(on: system.topics.taskResults, timeout: .seconds(120)) { events in
            events.contains { isAttempt($0, EventType.attemptStarted, run: training, task: "check_fastapi_health") }
        }
        system.kill9("coordinator")
        let midway = try await system.store.run(training)
        try system.startComponent("coordinator")

        let runs = try await system.waitForRuns([training, sleeper])
        try await system.fastapi.control(["delay_seconds": 0])
        for run in runs {
            try #require(run.state == .succeeded, "\(run.id): \(run.state) \(run.failure ?? "")\n\(system.diagnostics())")
        }
        #expect(midway?.state.isTerminal == false, "the training run had finished before the coordinator was killed: \(String(describing: midway?.state))")

        // Every task ran once: one try each in the state store.
        for run in runs {
            for task in run.tasks.values {
                #expect(task.tryNumber == 1 && task.attempts.count == 1, "\(run.id) \(task.taskID): tries \(task.attempts)")
            }
        }
        // FastAPI saw exactly one /health and one training-complete POST from this run (no other
        // traffic reaches it during this test), and recorded one delivery.
        let received = try await system.fastapi.received()
        let requests = (received["requests"]?.intValue ?? 0) - requestsBefore
        #expect(requests == 2, "FastAPI requests during the test: \(requests) (expected GET /health + POST training-complete)")
        let delivered = try await system.fastapi.received(
            idempotencyKey: idempotencyKey(dag: SystemDags.training, run: training, task: "notify_training_complete"))
        #expect(delivered.count == 1, "\(delivered)")
        #expect(runs[0].tasks["notify_training_complete"]?.output?["duplicate"]?.boolValue == false)

        // With healthy workers every attempt was started once and finished once. (A re-published
        // result — same event id — after an outbox replay would be a repeat, not a second run.)
        _ = try await system.events(on: system.topics.taskResults) { events in
            runs.allSatisfy { run in
                run.tasks.keys.allSatisfy { task in events.contains { isAttempt($0, EventType.attemptSucceeded, run: run.id, task: task) } }
            }
        }
        let results = try await system.records(on: system.topics.taskResults)
        var republished: [String] = []
        var dispatches = try await system.records(on: system.topics.taskCommands)
        dispatches += try await system.records(on: system.topics.notifications)
        for run in runs {
            for task in run.tasks.keys.sorted() {
                let starts = results.filter { isAttempt($0.event, EventType.attemptStarted, run: run.id, task: task) }
                let successes = results.filter { isAttempt($0.event, EventType.attemptSucceeded, run: run.id, task: task) }
                let sent = dispatches.filter { $0.event.subject == "\(run.id)/\(task)#1" || ($0.event.data?["run_id"]?.stringValue == run.id && $0.event.data?["task_id"]?.stringValue == task) }
                let detail = "results \(successes.map { "\($0.position) \($0.event.id) from \($0.event.source) at \($0.event.time.map(ISO8601.format) ?? "-")" }); "
                    + "dispatches \(sent.map { "\($0.position) \($0.event.id) at \($0.event.time.map(ISO8601.format) ?? "-")" })"
                #expect(starts.count == 1, "\(run.id) \(task): attempt.started ×\(starts.count) from \(starts.map(\.event.source))")
                #expect(Set(successes.map(\.event.id)).count == 1, "\(run.id) \(task): \(detail)")
                // More than one record is a republish of the one recorded result — after the restarted
                // coordinator re-sent its unsent outbox (a second dispatch), or after the worker group
                // rebalanced before the dispatch's offset was committed — never a second run: same id,
                // same time, same data, and only one attempt.started.
                #expect(Set(successes.map { $0.event.time }).count == 1 && Set(successes.map { $0.event.data }).count == 1,
                        "\(run.id) \(task): differing attempt.succeeded events: \(detail)")
                if successes.count > 1 { republished.append("\(run.id) \(task): \(detail)") }
            }
        }
        if !republished.isEmpty { print("note: results republished (not re-run):\n" + republished.joined(separator: "\n")) }
    }

    // MARK: 2c. FastAPI down during the health check

    /// Uses `system_training_fast_retry`, the training DAG with `retry_delay: 1s` (the real one waits
    /// 5 minutes between tries); same tasks and `retries: 2`, so three tries of the health check.
    @Test func fastAPIDownDuringTheHealthCheckIsRetriedPerPolicyThenTheRunFailsWithTheCause() async throws {
        let system = try await SystemCluster.shared()
        try await system.prepare()
        defer { system.expectNoCrashes() }
        try await system.fastapi.control(["healthy": false])  // GET /health answers 503
        let run = try await system.requestRun(SystemDags.fastRetryTraining)
        let finished = try await system.waitForRun(run)
        try await system.fastapi.control(["healthy": true])

        #expect(finished.state == .failed, "\(run): \(finished.state)\n\(system.diagnostics())")
        let check = try #require(finished.tasks["check_fastapi_health"])
        #expect(check.state == .failed)
        #expect(check.maxTries == 3)
        #expect(check.attempts.map(\.outcome) == [.failed, .failed, .failed], "\(check.attempts)")
        // Each retry waited at least the policy's 1 s after the previous try failed.
        for (earlier, later) in zip(check.attempts, check.attempts.dropFirst()) {
            if let failedAt = earlier.finishedAt {
                #expect(later.scheduledAt.timeIntervalSince(failedAt) >= 0.999, "retry scheduled \(later.scheduledAt) after failure at \(failedAt)")
            }
        }
        #expect(check.lastError?.message.contains("503") == true, "\(String(describing: check.lastError))")
        for task in ["extract_data", "preprocess_data", "train_model", "notify_training_complete"] {
            #expect(finished.tasks[task]?.state == .upstreamFailed, "\(task): \(String(describing: finished.tasks[task]?.state))")
        }
        let cause = try #require(finished.failure)
        #expect(cause.contains("check_fastapi_health failed after 3 tries"), "\(cause)")

        // The cause is visible in `lockstep runs`.
        let table = try await system.runsCommand(["--dag", SystemDags.fastRetryTraining, "--limit", "100"])
        let block = table.components(separatedBy: "\n").drop { !$0.hasPrefix(run) }
        let shown = block.prefix(10).joined(separator: "\n")
        #expect(shown.contains("FAILED"), "lockstep runs:\n\(table)")
        #expect(shown.contains("cause: check_fastapi_health failed after 3 tries"), "lockstep runs:\n\(table)")
        #expect(shown.contains("503"), "lockstep runs:\n\(table)")
        #expect(shown.contains("3/3"), "lockstep runs:\n\(table)")

        // Nothing was announced to FastAPI for this run, and the failure is on lockstep.runs.events.
        let delivered = try await system.fastapi.received(
            idempotencyKey: idempotencyKey(dag: SystemDags.fastRetryTraining, run: run, task: "notify_training_complete"))
        #expect(delivered.isEmpty)
        _ = try await system.events(on: system.topics.runEvents) { events in
            events.contains { $0.subject == run && $0.type == "lockstep.run.failed" }
        }
    }

    // MARK: 2d. Max active runs and pool limits

    @Test func maxActiveRunsAndPoolLimitsHoldWhenRunsOfBothPipelinesAreTriggeredTogether() async throws {
        let system = try await SystemCluster.shared()
        try await system.prepare()
        defer { system.expectNoCrashes() }
        // Two runs of each pipeline and three pooled sleepers, in one batch of run requests.
        var requests: [(dag: String, key: String)] = []
        for dag in [SystemDags.training, SystemDags.integration, SystemDags.training, SystemDags.integration] {
            requests.append((dag, SystemCluster.uniqueKey("together")))
        }
        for _ in 0..<3 { requests.append((SystemDags.pooledSleep, SystemCluster.uniqueKey("pooled"))) }
        let ids = try await system.requestRuns(requests)
        let runs = try await system.waitForRuns(ids, timeout: .seconds(180))
        for run in runs {
            #expect(run.state == .succeeded, "\(run.id): \(run.state) \(run.failure ?? "")")
        }

        // max_active_runs: 1 — no two runs of the same pipeline overlapped (every run in the store).
        for dag in [SystemDags.training, SystemDags.integration] {
            let all = try await system.store.runs(dagID: dag, limit: 1000).filter { $0.startedAt != nil }
            let spans = all.map { ($0.id, $0.startedAt!, $0.finishedAt ?? .distantFuture) }.sorted { $0.1 < $1.1 }
            #expect(spans.count >= 2)
            for (earlier, later) in zip(spans, spans.dropFirst()) {
                #expect(earlier.2 <= later.1, "\(dag): \(earlier.0) ran \(earlier.1)…\(earlier.2), \(later.0) started \(later.1)")
            }
        }
        // This test's two runs of each pipeline ran one after the other in request order.
        for dag in [SystemDags.training, SystemDags.integration] {
            let mine = runs.filter { $0.dagID == dag }
            #expect(mine.count == 2)
            if mine.count == 2, let firstEnd = mine[0].finishedAt, let secondStart = mine[1].startedAt {
                #expect(firstEnd <= secondStart)
            }
        }

        // ml_training_pool: 2 slots — at no instant more than 2 pooled attempts ran, over every attempt
        // of every pooled task in the store.
        let pooled = system.pooledTasks("ml_training_pool")
        var spans: [(String, Date, Date)] = []
        for (dag, tasks) in pooled where !tasks.isEmpty {
            for run in try await system.store.runs(dagID: dag, limit: 1000) {
                for task in tasks {
                    for attempt in run.tasks[task]?.attempts ?? [] {
                        guard let start = attempt.startedAt ?? (attempt.finishedAt == nil ? nil : attempt.scheduledAt) else { continue }
                        spans.append(("\(run.id)/\(task)#\(attempt.tryNumber)", start, attempt.finishedAt ?? .distantFuture))
                    }
                }
            }
        }
        // This test alone: 3 pooled tasks per training run, 1 per integration run, 1 per sleeper.
        let expectedAtLeast = 11
        #expect(spans.count >= expectedAtLeast)
        let peak = maximumOverlap(spans.map { ($0.1, $0.2) })
        let timeline = spans.sorted { $0.1 < $1.1 }.map { "\($0.0) \($0.1)…\($0.2)" }.joined(separator: "\n")
        #expect(peak <= 2, "more than 2 pooled attempts at once (\(peak)):\n\(timeline)")
        #expect(peak >= 1)
    }

    // MARK: 3. Clean shutdown after the workload

    /// Every component stops on SIGTERM with exit status 0 once the tests above have run through
    /// it (kills, restarts and the rebalances they cause included). Runs last in this suite; a later
    /// test would get fresh components from `prepare()`.
    @Test func everyComponentShutsDownCleanlyOnSIGTERMAfterTheWorkload() async throws {
        let system = try await SystemCluster.shared()
        system.expectNoCrashes()
        for name in SystemCluster.componentNames {
            let (status, reason) = system.stopGracefully(name)
            let log = system.component(name)?.log ?? ""
            #expect(reason == .exit && status == 0,
                    "\(name) exited with \(reason == .exit ? "status" : "signal") \(status) on SIGTERM:\n\(String(log.suffix(4000)))")
        }
    }
}

// MARK: Helpers

/// The `Idempotency-Key` the delivery operators send: `lockstep:<dag>:<run>:<task>`, each part
/// percent-encoded (the run ids these tests make need no encoding beyond `~`, which stays).
func idempotencyKey(dag: String, run: RunID, task: String) -> String {
    let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
    let part = { (s: String) in s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s }
    return "lockstep:\(part(dag)):\(part(run)):\(part(task))"
}

func parseJSON(_ text: String, what: String) throws -> JSONValue {
    do { return try JSONValue.parse(text) } catch {
        throw TestSupportError("\(what) is not JSON (\(error)):\n\(text.prefix(4000))")
    }
}

/// An attempt event of `type` about `run`'s `task` (any try).
func isAttempt(_ event: CloudEvent, _ type: String, run: RunID, task: String) -> Bool {
    event.type == type && event.data?["run_id"]?.stringValue == run && event.data?["task_id"]?.stringValue == task
}

/// The most intervals open at one instant; an interval ending when another starts does not overlap it.
func maximumOverlap(_ spans: [(Date, Date)]) -> Int {
    var edges: [(Date, Int)] = []
    for (start, end) in spans {
        edges.append((start, 1))
        edges.append((end, -1))
    }
    // At equal times, ends (-1) before starts (+1).
    edges.sort { (a: (Date, Int), b: (Date, Int)) -> Bool in a.0 != b.0 ? a.0 < b.0 : a.1 < b.1 }
    var open = 0, peak = 0
    for (_, change) in edges {
        open += change
        peak = max(peak, open)
    }
    return peak
}
