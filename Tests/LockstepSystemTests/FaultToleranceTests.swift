import Foundation
import LockstepBus
import LockstepCore
import LockstepServices
import LockstepTestSupport
import LockstepWire
import Testing

/// The system as separate `lockstep` processes (scheduler, coordinator, two workers, notifier) on
/// Tansu with PostgreSQL state, through what production throws at it: every process started at the
/// same instant on an empty database, PostgreSQL restarted with `-m immediate` in the middle of a
/// batch, the broker frozen past the consumers' session timeout, and a database the previous
/// release left. The processes must ride each out — the same pids before and after, every run
/// succeeding, no attempt run twice, one training-complete per run — and say while it lasts that
/// they are waiting, once, not once per try.
///
/// Its own system (`sharedForFaults`): no other suite should feel these faults. What each component
/// logged while a fault lasted is saved under `.build/fault-logs/` and a short excerpt printed.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct FaultToleranceTests {
    // MARK: All at once, ten times

    @Test func everyComponentStartedAtTheSameInstantOnAnEmptyDatabaseComesUpAndRunsTenTimesInARow() async throws {
        let system = try await SystemCluster.sharedForFaults()
        defer { system.expectNoCrashes() }
        for round in 1...10 {
            // A fresh broker (no topics, no groups) and an empty database each round.
            let database = "lockstep_fresh_\(round)_\(UUID().uuidString.prefix(6).lowercased())"
            try SystemCluster.createStateDatabase(database, on: system.postgres)
            try await system.relocate(freshBroker: true, stateDatabase: database, openStore: false)
            try system.startAllComponents()
            for name in SystemCluster.componentNames where name != "scheduler" {
                try await system.waitUntilAssigned(name, timeout: .seconds(90))
            }
            try await system.openStore()
            let run = try await system.requestRun(SystemDags.noop, key: "round-\(round)")
            let finished = try await system.waitForRun(run, timeout: .seconds(60))
            #expect(finished.state == .succeeded, "round \(round): \(run) \(finished.state) \(finished.failure ?? "")")

            // Five processes migrated the empty database at once: each migration is recorded once.
            let recorded = try system.postgres.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM lockstep_schema_migrations", database: database)
            #expect(recorded == "1,2,3,4,5", "round \(round): migrations recorded \(recorded)")
            // Every process says it is running, in the heartbeat table `lockstep runs` reads.
            try await system.waitUntil("round \(round): every component's heartbeat says running", timeout: .seconds(30)) {
                try await Self.everyComponentReportsRunning(system)
            }
            for name in SystemCluster.componentNames {
                #expect(system.component(name)?.isRunning == true, "round \(round): \(name) is not running")
            }
        }
    }

    // MARK: PostgreSQL restarted mid-batch

    @Test func aPostgreSQLImmediateRestartMidBatchIsRiddenOutByTheSameProcessesRunningNoAttemptTwice() async throws {
        let system = try await SystemCluster.sharedForFaults()
        try await system.prepare()
        defer { system.expectNoCrashes() }
        let before = system.pids()
        let requestsBefore = try await system.fastapi.received()["requests"]?.intValue ?? 0
        let batch = try await Batch.request(on: system, label: "pg-restart")
        try await batch.waitForNapsToStart(on: system)

        let unfinished = try await Self.unfinished(batch, on: system)
        let marks = system.logMarks()
        try await system.postgres.restart(mode: .immediate)
        let runs = try await system.waitForRuns(batch.all, timeout: .seconds(150))
        let logs = system.logs(since: marks)
        FaultLogs.record("postgres-restart", logs)

        #expect(unfinished > 0, "every run of the batch had finished before the fault")
        try await expectRiddenOut(system, runs: runs, batch: batch, pidsBefore: before, fastAPIRequestsBefore: requestsBefore)
        // The coordinator's lease ended with the server's sessions: it re-took it and reloaded, once.
        let coordinator = logs["coordinator"] ?? ""
        #expect(coordinator.contains("coordinator stopped consuming, committing only the records whose effects it stored"), "coordinator log:\n\(coordinator.suffix(4000))")
        #expect(coordinator.components(separatedBy: "coordinator active again after").count - 1 == 1, "coordinator log:\n\(coordinator.suffix(4000))")
        // Each process's store said so once: lost, then restored (not once per try).
        for name in ["coordinator", "worker-1", "worker-2", "notifier"] {
            let log = logs[name] ?? ""
            #expect(log.components(separatedBy: "state store connection lost").count - 1 <= 1, "\(name):\n\(log.suffix(3000))")
        }
        #expect(!logs.values.joined().contains(PostgresCluster.password))
    }

    // MARK: The broker frozen past the session timeout

    @Test func aBrokerFrozenPastTheSessionTimeoutIsRiddenOutByTheSameProcessesRunningNoAttemptTwice() async throws {
        let system = try await SystemCluster.sharedForFaults()
        try await system.prepare()
        defer { system.expectNoCrashes() }
        let before = system.pids()
        let requestsBefore = try await system.fastapi.received()["requests"]?.intValue ?? 0
        let batch = try await Batch.request(on: system, label: "freeze")
        try await batch.waitForNapsToStart(on: system)

        let unfinished = try await Self.unfinished(batch, on: system)
        let marks = system.logMarks()
        system.broker.pause()
        // Frozen for more than twice the consumers' session timeout (6 s), so every group member's
        // session ends and partitions move. Meanwhile `lockstep runs` (which needs only the store)
        // should say which runs wait, and for what.
        let frozenFor = Duration.seconds(15)
        let thawAt = ContinuousClock.now + frozenFor
        // Every "waiting:" line any listing showed: which tasks wait changes over the freeze (a health
        // check's publish may be the first to wait, a nap's result a moment later).
        var waitingShown: [String] = []
        do {
            defer { system.broker.resume() }
            while ContinuousClock.now < thawAt {
                let listing = try await system.runsCommand(["--limit", "20"])
                for line in listing.split(separator: "\n") where line.contains("waiting:") && !waitingShown.contains(String(line)) {
                    waitingShown.append(String(line))
                }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        let runs = try await system.waitForRuns(batch.all, timeout: .seconds(180))
        let logs = system.logs(since: marks)
        FaultLogs.record("broker-freeze", logs)

        #expect(unfinished > 0, "every run of the batch had finished before the fault")
        try await expectRiddenOut(system, runs: runs, batch: batch, pidsBefore: before, fastAPIRequestsBefore: requestsBefore)
        let lines = waitingShown.filter { $0.contains("is waiting for the broker") }
        #expect(!lines.isEmpty, "`lockstep runs` never said a run was waiting for the broker during the freeze")
        print("`lockstep runs` during the freeze:\n" + lines.prefix(6).joined(separator: "\n"))
        #expect(lines.contains { $0.contains("task nap") }, "\(waitingShown.joined(separator: "\n"))")
        // A worker said it waited, once, and that the broker answered again.
        let workers = (logs["worker-1"] ?? "") + (logs["worker-2"] ?? "")
        #expect(workers.contains("waiting for the broker"), "workers:\n\(workers.suffix(4000))")
        #expect(workers.contains("the broker answers again"), "workers:\n\(workers.suffix(4000))")
        // The members lost their sessions and rejoined once the broker was back.
        let coordinator = logs["coordinator"] ?? ""
        #expect(coordinator.contains("group \(Coordinator.group) revoked") || coordinator.contains("rebalance failed"), "coordinator:\n\(coordinator.suffix(4000))")
        #expect(coordinator.contains("group \(Coordinator.group) assigned [lockstep."), "coordinator:\n\(coordinator.suffix(4000))")
    }

    // MARK: A database of the previous release

    @Test func aDatabaseOfThePreviousReleaseIsMigratedAndItsRunsStayListedBesideNewOnes() async throws {
        let system = try await SystemCluster.sharedForFaults()
        defer { system.expectNoCrashes() }
        let database = "lockstep_previous_\(UUID().uuidString.prefix(6).lowercased())"
        try SystemCluster.createStateDatabase(database, on: system.postgres)
        try system.postgres.psql(PreviousRelease.schema, database: database)
        try system.postgres.psql(PreviousRelease.data, database: database)

        // The new components, all at once, find it as the old release left it and migrate it.
        try await system.relocate(freshBroker: false, stateDatabase: database, openStore: false)
        try system.startAllComponents()
        for name in SystemCluster.componentNames where name != "scheduler" { try await system.waitUntilAssigned(name) }
        let recorded = try system.postgres.psql("SELECT version || ':' || name FROM lockstep_schema_migrations ORDER BY version", database: database)
        #expect(recorded == "1:initial schema\n2:task logs\n3:component heartbeats\n4:API users and sessions\n5:run list indexes", "\(recorded)")
        try await system.openStore()

        // A new run beside the old one.
        let fresh = try await system.requestRun(SystemDags.sleep, key: SystemCluster.uniqueKey("after-upgrade"))
        let finished = try await system.waitForRun(fresh)
        #expect(finished.state == .succeeded, "\(fresh): \(finished.state) \(finished.failure ?? "")")

        // `lockstep runs` (the binary) lists the old run with its tasks, beside the new one.
        let table = try await system.runsCommand(["--dag", SystemDags.sleep, "--limit", "100"])
        let old = Self.block(of: PreviousRelease.runID, in: table)
        #expect(old.contains("SUCCEEDED") && old.contains("trigger=manual"), "lockstep runs:\n\(table)")
        for task in ["first", "nap", "last"] {
            #expect(old.split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("\(task) ") && $0.contains("succeeded") && $0.contains("1/1") },
                    "task \(task) in:\n\(old)")
        }
        #expect(table.contains(fresh), "lockstep runs:\n\(table)")
        #expect(!old.contains("waiting:"), "\(old)")

        // … and its outputs (`--json`), as the old release stored them.
        let json = try parseJSON(try await system.runsCommand(["--json", "--dag", SystemDags.sleep, "--limit", "100"]), what: "`lockstep runs --json`")
        let listed = json.arrayValue ?? []
        let oldEntry = try #require(listed.first { $0["id"]?.stringValue == PreviousRelease.runID }, "\(json)")
        #expect(oldEntry["state"]?.stringValue == "succeeded")
        #expect(oldEntry["tasks"]?["nap"]?["output"]?["slept_seconds"]?.intValue == 3, "\(String(describing: oldEntry["tasks"]))")
        #expect(oldEntry["tasks"]?["nap"]?["attempts"]?.arrayValue?.first?["worker"]?.stringValue == PreviousRelease.worker)
        let newEntry = try #require(listed.first { $0["id"]?.stringValue == fresh })
        #expect(newEntry["tasks"]?["nap"]?["output"]?["slept_seconds"]?.intValue == 3)
        // The new run came after the old one: the old release's run sequence carried on.
        #expect((newEntry["sequence"]?.intValue ?? -1) > (oldEntry["sequence"]?.intValue ?? 0))
        // Asking again for the old run's key starts nothing: the coordinator finds it in the store.
        // (The probe after it has the same key, the DAG id: the coordinator handles it after the repeat.)
        let repeated = try await system.requestRuns([(SystemDags.sleep, "previous-release"), (SystemDags.sleep, SystemCluster.uniqueKey("probe"))])
        #expect(repeated[0] == PreviousRelease.runID)
        _ = try await system.waitForRun(repeated[1])
        let again = try await system.store.run(PreviousRelease.runID)
        #expect(again?.state == .succeeded && again?.finishedAt == Date(timeIntervalSinceReferenceDate: 780000004.5), "\(String(describing: again))")
    }

    // MARK: Helpers

    /// The lines `lockstep runs` printed for one run: its header and its task table.
    static func block(of run: RunID, in table: String) -> String {
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("\(run)  ") }) else { return "" }
        let rest = lines[(start + 1)...].prefix { $0.hasPrefix(" ") }
        return ([lines[start]] + rest).joined(separator: "\n")
    }

    /// How many of the batch's runs have not finished yet.
    static func unfinished(_ batch: Batch, on system: SystemCluster) async throws -> Int {
        var count = 0
        for id in batch.all where try await system.store.run(id)?.state.isTerminal != true { count += 1 }
        return count
    }

    /// Every component process has a heartbeat saying `running` (the coordinator: active).
    static func everyComponentReportsRunning(_ system: SystemCluster) async throws -> Bool {
        let beats = try await system.store.heartbeats()
        let pids = system.pids()
        let rows = [("scheduler", "scheduler"), ("coordinator", "coordinator"), ("worker-1", "worker"), ("worker-2", "worker"), ("notifier", "notifier")]
        return rows.allSatisfy { name, component in
            guard let pid = pids[name] else { return false }
            return beats.contains { $0.component == component && $0.instance.hasSuffix("-\(pid)") && $0.state == "running" }
        }
    }

    /// What riding out a fault means: every run succeeded in one try per task; the same processes
    /// are running; no attempt was started twice or finished with two different results; FastAPI got
    /// one `/health` and one training-complete per training run, and nothing else.
    func expectRiddenOut(_ system: SystemCluster, runs: [DagRun], batch: Batch, pidsBefore: [String: Int32],
                         fastAPIRequestsBefore: Int64) async throws {
        for run in runs {
            #expect(run.state == .succeeded, "\(run.id): \(run.state) \(run.failure ?? "")")
            for task in run.tasks.values {
                #expect(task.tryNumber == 1 && task.attempts.count == 1, "\(run.id) \(task.taskID): tries \(task.attempts)")
            }
        }
        // … and says so again in its heartbeat: nothing is left waiting or recovering.
        try await system.waitUntil("every component's heartbeat to say running again", timeout: .seconds(30)) {
            try await Self.everyComponentReportsRunning(system)
        }
        let pidsAfter = system.pids()
        for name in SystemCluster.componentNames {
            #expect(pidsBefore[name] != nil && pidsAfter[name] == pidsBefore[name], "\(name): pid before \(String(describing: pidsBefore[name])), after \(String(describing: pidsAfter[name]))")
        }

        _ = try await system.events(on: system.topics.taskResults) { events in
            runs.allSatisfy { run in
                run.tasks.keys.allSatisfy { task in events.contains { isAttempt($0, EventType.attemptSucceeded, run: run.id, task: task) } }
            }
        }
        let results = try await system.events(on: system.topics.taskResults)
        for run in runs {
            for task in run.tasks.keys.sorted() {
                let starts = results.filter { isAttempt($0, EventType.attemptStarted, run: run.id, task: task) }
                let successes = results.filter { isAttempt($0, EventType.attemptSucceeded, run: run.id, task: task) }
                // A republished event (after a retried publish or a redelivered command) has the same id;
                // a second run of the attempt would have another worker's id, or another time and output.
                #expect(Set(starts.map(\.id)).count == 1, "\(run.id) \(task): attempt.started from \(starts.map(\.source))")
                #expect(Set(successes.map(\.id)).count == 1 && Set(successes.map(\.time)).count == 1 && Set(successes.map(\.data)).count == 1,
                        "\(run.id) \(task): attempt.succeeded \(successes.map { "\($0.id) \($0.source) \($0.time.map(ISO8601.format) ?? "-")" })")
            }
        }

        let received = try await system.fastapi.received()
        let requests = (received["requests"]?.intValue ?? 0) - fastAPIRequestsBefore
        #expect(requests == 2 * Int64(batch.trainings.count), "FastAPI requests during the fault: \(requests), expected /health + training-complete per training run")
        for training in batch.trainings {
            let delivered = try await system.fastapi.received(
                idempotencyKey: idempotencyKey(dag: SystemDags.training, run: training, task: "notify_training_complete"))
            #expect(delivered.count == 1, "training-complete for \(training): \(delivered)")
            let run = runs.first { $0.id == training }
            #expect(run?.tasks["notify_training_complete"]?.output?["duplicate"]?.boolValue == false)
        }
    }
}

/// The runs a fault test starts together: sleepers whose 3 s nap is in progress when the fault hits,
/// and training runs that end in a training-complete POST to FastAPI.
struct Batch {
    var sleepers: [RunID]
    var trainings: [RunID]
    var all: [RunID] { sleepers + trainings }

    static func request(on system: SystemCluster, label: String) async throws -> Batch {
        var requests: [(dag: String, key: String)] = []
        for _ in 0..<6 { requests.append((SystemDags.sleep, SystemCluster.uniqueKey("\(label)-sleep"))) }
        for _ in 0..<2 { requests.append((SystemDags.training, SystemCluster.uniqueKey("\(label)-train"))) }
        let ids = try await system.requestRuns(requests)
        return Batch(sleepers: Array(ids.prefix(6)), trainings: Array(ids.suffix(2)))
    }

    /// Until at least two naps have started: the fault then hits attempts in progress.
    func waitForNapsToStart(on system: SystemCluster) async throws {
        _ = try await system.events(on: system.topics.taskResults, timeout: .seconds(120)) { events in
            sleepers.filter { run in events.contains { isAttempt($0, EventType.attemptStarted, run: run, task: "nap") } }.count >= 2
        }
    }
}

/// What each component logged while a fault lasted: all of it under `.build/fault-logs/<fault>.log`,
/// and in the test output Lockstep's own lines above debug level (a few per component) with a count
/// of librdkafka's, which reports each failed request of its own.
enum FaultLogs {
    static func record(_ fault: String, _ logs: [String: String]) {
        let directory = TestPaths.packageRoot.appendingPathComponent(".build/fault-logs")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var full = ""
        var excerpt = "what the components logged during \(fault) (full logs: .build/fault-logs/\(fault).log):\n"
        for name in logs.keys.sorted() {
            let text = logs[name] ?? ""
            full += "===== \(name) =====\n\(text)\n"
            // One entry per log record: a message with newlines (a libpq error) continues on lines
            // that do not start with a timestamp.
            var records: [String] = []
            for line in text.split(separator: "\n") {
                if line.hasPrefix("20") || records.isEmpty { records.append(String(line)) } else { records[records.count - 1] += " " + line.trimmingCharacters(in: .whitespaces) }
            }
            let lines = records.filter { !$0.contains(" debug ") && !$0.contains(" trace ") }
            let ours = lines.filter { $0.contains("[LockstepServices]") }
            let rdkafka = lines.filter { $0.contains("[LockstepKafka]") && !$0.contains(" info ") }
            excerpt += "  \(name): \(ours.count) line(s) from the components, \(rdkafka.count) warning(s) from librdkafka\n"
            for line in ours.prefix(8) {
                // The timestamp, the level and the message; the metadata is in the file.
                let parts = line.split(separator: " ", maxSplits: 3)
                let message = line.range(of: "[LockstepServices] ").map { String(line[$0.upperBound...]) } ?? String(line)
                excerpt += "    \(parts.first.map(String.init) ?? "") \(parts.count > 1 ? String(parts[1]) : ""): \(message.prefix(220))\n"
            }
        }
        try? Data(full.utf8).write(to: directory.appendingPathComponent("\(fault).log"))
        print(excerpt)
    }
}
