import Foundation
import Testing

@testable import LockstepCore

/// The repository's own config and DAG files, found from this source file.
enum RepoConfig {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()
    static let operators: Set<String> = [
        "http_health_check", "multi_health_check", "postgres_counts", "table_summary", "preprocess", "train_model",
        "notify_training_complete", "sync_fastapi", "integration_report", "noop", "sleep", "fail", "command", "sql", "http",
    ]
    static func config() throws -> LockstepConfig {
        let file = root.appendingPathComponent("config/lockstep.yaml")
        return try ConfigLoader.parseConfig(try String(contentsOf: file, encoding: .utf8), file: file.path)
    }
    /// The repository's DAG files as Core takes them: text, read here (Core reads no files).
    static func dagFiles() throws -> [(path: String, text: String)] {
        let directory = root.appendingPathComponent("config/dags")
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted().map {
            let url = directory.appendingPathComponent($0)
            return (url.path, try String(contentsOf: url, encoding: .utf8))
        }
    }
}

@Suite struct SeedPipelineTests {
    @Test func bothSeedPipelinesLoadWithTheSeedsSettings() throws {
        let config = try RepoConfig.config()
        #expect(config.pools["ml_training_pool"] == PoolSpec(slots: 2, description: "Pool for ML training tasks to limit concurrent resource usage"))
        #expect(config.variables["FASTAPI_BASE_URL"] != nil && config.variables["NODEJS_BASE_URL"] != nil)
        #expect(config.connections["noblestride_postgres"] != nil && config.connections["recommender_postgres"] != nil)

        let dags = try ConfigLoader.parseDags(try RepoConfig.dagFiles(), config: config, operators: RepoConfig.operators)
        let training = try #require(dags.first { $0.id == "recommender_training_pipeline" })
        #expect(training.schedule == "0 2 * * *" && training.timezone == "UTC" && !training.catchup && training.maxActiveRuns == 1)
        #expect(training.owner == "recommendation-team")
        #expect(training.tasks.map(\.id) == ["check_fastapi_health", "extract_data", "preprocess_data", "train_model", "quality_gate", "notify_training_complete"])
        let health = try #require(training.task("check_fastapi_health"))
        #expect(health.timeout == .seconds(30))
        #expect(health.retry == RetryPolicy(retries: 2, delay: .seconds(300)))
        #expect(health.params["url"] == "{{ var.FASTAPI_BASE_URL }}/health")
        for pooled in ["extract_data", "preprocess_data", "train_model"] {
            #expect(training.task(pooled)?.pool == "ml_training_pool")
        }
        #expect(training.task("extract_data")?.upstream == ["check_fastapi_health"])

        let integration = try #require(dags.first { $0.id == "noblestride_integration_pipeline" })
        #expect(integration.schedule == "0 */6 * * *" && !integration.catchup && integration.maxActiveRuns == 1)
        #expect(integration.owner == "noblestride-team")
        #expect(integration.task("check_services")?.retry == RetryPolicy(retries: 1, delay: .seconds(180)))
        #expect(integration.task("check_services")?.params["timeout"] == 15)
        #expect(integration.task("extract_data")?.pool == "ml_training_pool")
        #expect(integration.leafTaskIDs == ["generate_report"])
    }
}

@Suite struct DagValidationTests {
    let config = LockstepConfig(pools: ["ml_training_pool": PoolSpec(slots: 2)])

    func load(_ yaml: String) throws(ConfigError) -> DagSpec {
        try ConfigLoader.parseDag(yaml, file: "dags/test.yaml", config: config, operators: RepoConfig.operators)
    }

    func error(_ yaml: String) -> ConfigError? {
        do { _ = try load(yaml); return nil } catch { return error }
    }

    let valid = """
        id: ok
        schedule: "0 2 * * *"
        tasks:
          - id: a
            operator: noop
          - id: b
            operator: noop
            upstream: [a]
        """

    @Test func aValidDagLoads() throws {
        let dag = try load(valid)
        #expect(dag.tasks.count == 2 && dag.maxActiveRuns == 16 && dag.timezone == "UTC")
    }

    @Test func aCycleIsRejectedNamingTheTasks() throws {
        let e = try #require(error("""
            id: cyclic
            tasks:
              - {id: a, operator: noop, upstream: [c]}
              - {id: b, operator: noop, upstream: [a]}
              - {id: c, operator: noop, upstream: [b]}
            """))
        #expect(e.file == "dags/test.yaml")
        #expect(e.keyPath.hasSuffix(".upstream"))
        #expect(e.message.contains("cycle") && e.message.contains("a") && e.message.contains("c"))
    }

    @Test func anUnknownPoolIsRejectedWithTheKnownOnes() throws {
        let e = try #require(error("""
            id: p
            tasks:
              - {id: a, operator: noop, pool: gpu_pool}
            """))
        #expect(e.keyPath == "tasks[0].pool")
        #expect(e.message.contains("gpu_pool") && e.fix.contains("ml_training_pool"))
    }

    @Test func aBadCronIsRejected() throws {
        let e = try #require(error("""
            id: c
            schedule: "0 25 * * *"
            tasks:
              - {id: a, operator: noop}
            """))
        #expect(e.keyPath == "schedule" && e.message.contains("hour"))
    }

    @Test func anUnknownKeyIsRejectedWithASuggestion() throws {
        let e = try #require(error("""
            id: k
            tasks:
              - {id: a, operator: noop, retires: 2}
            """))
        #expect(e.keyPath == "tasks[0].retires" && e.line == 3)
        #expect(e.fix.contains("`retries`"))
    }

    @Test func anUnknownUpstreamIsRejected() throws {
        let e = try #require(error("""
            id: u
            tasks:
              - {id: a, operator: noop, upstream: [ghost]}
            """))
        #expect(e.keyPath == "tasks[0].upstream" && e.message.contains("ghost"))
    }

    @Test func aDuplicateTaskIdIsRejected() throws {
        let e = try #require(error("""
            id: d
            tasks:
              - {id: a, operator: noop}
              - {id: a, operator: noop}
            """))
        #expect(e.keyPath == "tasks[1].id" && e.message.contains("duplicate"))
    }

    @Test func anUnknownOperatorIsRejected() throws {
        let e = try #require(error("""
            id: o
            tasks:
              - {id: a, operator: bash}
            """))
        #expect(e.keyPath == "tasks[0].operator" && e.fix.contains("http_health_check"))
    }

    @Test func aBadDurationIsRejected() throws {
        let e = try #require(error("""
            id: t
            tasks:
              - {id: a, operator: noop, retry_delay: five minutes}
            """))
        #expect(e.keyPath == "tasks[0].retry_delay" && e.fix.contains("5m"))
    }

    @Test func anUnknownTimeZoneIsRejected() throws {
        let e = try #require(error("""
            id: z
            timezone: Mars/Olympus
            tasks:
              - {id: a, operator: noop}
            """))
        #expect(e.keyPath == "timezone")
    }

    @Test func defaultArgsApplyToTasksAndTasksOverrideThem() throws {
        let dag = try load("""
            id: defaults
            default_args: {owner: team, retries: 2, retry_delay: 5m, timeout: 1m}
            tasks:
              - {id: a, operator: noop}
              - {id: b, operator: noop, retries: 0, timeout: 30s, retry_exponential_backoff: true}
            """)
        #expect(dag.owner == "team")
        #expect(dag.task("a")?.retry == RetryPolicy(retries: 2, delay: .seconds(300)))
        #expect(dag.task("a")?.timeout == .seconds(60))
        #expect(dag.task("b")?.retry.retries == 0 && dag.task("b")?.retry.exponentialBackoff == true)
        #expect(dag.task("b")?.timeout == .seconds(30))
    }

    @Test func configFileErrorsNameTheKey() throws {
        do {
            _ = try ConfigLoader.parseConfig("pools:\n  p: {slots: 0}\n", file: "lockstep.yaml")
            Issue.record("a pool with 0 slots was accepted")
        } catch {
            #expect(error.file == "lockstep.yaml" && error.keyPath == "pools.p.slots")
        }
    }

    @Test func durationsParseAndFormat() {
        #expect(DurationText.parse("30s") == .seconds(30))
        #expect(DurationText.parse("1h30m") == .seconds(5400))
        #expect(DurationText.parse("500ms") == .milliseconds(500))
        #expect(DurationText.parse("45") == .seconds(45))
        #expect(DurationText.parse("5 minutes") == nil)
        #expect(DurationText.parse("m") == nil)
        #expect(DurationText.format(.seconds(5400)) == "1h30m")
    }
}

/// `alerts:` in lockstep.yaml: webhooks for lifecycle events, checked like every other key.
@Suite struct AlertConfigTests {
    @Test func alertsParseWithTheirEventsAndDags() throws {
        let config = try ConfigLoader.parseConfig("""
            alerts:
              ops:
                url: "{{ var.SLACK_WEBHOOK_URL }}"
              training:
                url: https://pager.example.com/hook
                on: [run.failed, task.up_for_retry]
                dags: [recommender_training_pipeline]
            """, file: "lockstep.yaml")
        #expect(config.alerts.map(\.name) == ["ops", "training"])
        let ops = config.alerts[0], training = config.alerts[1]
        #expect(ops.urlVariable == "SLACK_WEBHOOK_URL" && ops.on == [.runFailed] && ops.dags.isEmpty)
        #expect(training.urlVariable == nil && training.on == [.runFailed, .taskUpForRetry])
        #expect(training.fires(for: .runFailed, dagID: "recommender_training_pipeline"))
        #expect(!training.fires(for: .runFailed, dagID: "noblestride_integration_pipeline"))
        #expect(!training.fires(for: .runSucceeded, dagID: "recommender_training_pipeline"))
    }

    @Test(arguments: [
        ("alerts:\n  ops:\n    url: ftp://x/y\n", "alerts.ops.url", "http(s)"),
        ("alerts:\n  ops:\n    url: http://x/y\n    on: [run.exploded]\n", "alerts.ops.on", "run.failed"),
        ("alerts:\n  ops:\n    on: [run.failed]\n", "alerts.ops.url", "url:"),
        ("alerts:\n  ops:\n    url: http://x/y\n    channel: '#ops'\n", "alerts.ops.channel", "url"),
    ])
    func badAlertsNameTheKeyAndTheFix(yaml: String, keyPath: String, fixMentions: String) {
        do {
            _ = try ConfigLoader.parseConfig(yaml, file: "lockstep.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect(error.file == "lockstep.yaml" && error.keyPath == keyPath, "\(error)")
            #expect(error.fix.contains(fixMentions), "\(error)")
        }
    }

    @Test func alertsNamingAnUnknownDagOrAnUnsetVariableAreRefused() throws {
        let dag = DagSpec(id: "known", tasks: [TaskSpec(id: "a", operator: "noop")])
        let unknownDag = LockstepConfig(alerts: [AlertSpec(name: "ops", url: "http://x/y", dags: ["nope"])])
        #expect(throws: ConfigError.self) { try ConfigLoader.validateAlerts(unknownDag, dags: [dag], file: "lockstep.yaml") }
        let unset = LockstepConfig(alerts: [AlertSpec(name: "ops", url: "{{ var.HOOK }}")])
        do {
            try ConfigLoader.validateAlerts(unset, dags: [dag], file: "lockstep.yaml")
            Issue.record("an unset variable was accepted")
        } catch {
            #expect(error.keyPath == "alerts.ops.url" && error.fix.contains("LOCKSTEP_VAR_HOOK"))
        }
        var set = unset
        set.variables["HOOK"] = "http://x/y"
        try ConfigLoader.validateAlerts(set, dags: [dag], file: "lockstep.yaml")
    }
}
