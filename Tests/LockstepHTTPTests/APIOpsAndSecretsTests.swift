import Foundation
import LockstepBus
import LockstepCore
import LockstepHTTP
import LockstepTestSupport
import LockstepWire
import Testing

/// Ops through the API (dead letters, redrive, replay, backfill plans, pools, variables,
/// connections), and no connection password in any response, header or log line.
@Suite(.serialized) struct APIOpsAndSecretsTests {
    @Test func opsRoutesWorkAndNoSecretEverLeaves() async throws {
        let system = try await APITestSystem()
        let client = APIClient(base: system.base)
        try await client.logIn("admin", system.adminPassword)

        // A request for an unknown DAG, published directly as a producer would: the coordinator
        // dead-letters it; the API lists and redrives it.
        let bad = system.runtime.event(component: "test", type: EventType.runRequested,
                                       data: ["dag_id": "ghost", "conf": ["dsn": .string(APITestSystem.config.connections["warehouse"]!)]])
        try await system.runtime.publish(bad, to: system.runtime.topics.runRequests, key: "ghost")
        var letters: [[String: Any]] = []
        try await system.eventually("the dead letter") {
            letters = try await client.get("/api/v1/deadletters").object["deadletters"] as? [[String: Any]] ?? []
            return !letters.isEmpty
        }
        let id = try #require(letters.first?["deadletter_id"] as? String)
        let reason = letters.first?["reason"] as? String ?? ""
        #expect(reason.contains("ghost"))
        let encoded = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let redriven = try await client.send("POST", "/api/v1/deadletters/\(encoded)/redrive")
        #expect(redriven.status == 202, "\(redriven.text)")
        try expectProblem(try await client.send("POST", "/api/v1/deadletters/nope/redrive"), 404, "unknown-deadletter", field: "deadletter_id")

        // Replay and backfill plans publish nothing in a dry run.
        _ = try await client.send("POST", "/api/v1/dags/other_pipeline/runs", json: ["idempotency_key": "r1"])
        _ = try await system.waitForRun("other_pipeline~r1")
        let plan = try await client.send("POST", "/api/v1/replay", json: ["topic": "lockstep.runs.requests", "from_offset": "0:0", "dag_id": "other_pipeline", "dry_run": true])
        #expect(plan.status == 200, "\(plan.text)")
        #expect(plan.object["count"] as? Int == 1)
        try expectProblem(try await client.send("POST", "/api/v1/replay", json: ["topic": "lockstep.runs.events", "from_offset": "0:0"]), 422, "topic-not-replayable", field: "topic")
        let replayed = try await client.send("POST", "/api/v1/replay", json: ["topic": "lockstep.runs.requests", "from_offset": "0:0", "dag_id": "other_pipeline"])
        #expect(replayed.status == 202)
        let rerun = try #require(((replayed.object["runs"] as? [[String: Any]])?.first?["dag_run_id"]) as? String)
        #expect(try await system.waitForRun(rerun).state == .succeeded)
        let backfill = try await client.send("POST", "/api/v1/backfills", json: ["dag_id": "api_pipeline", "from": "2025-09-16T00:00:00Z", "to": "2025-09-18T00:00:00Z", "dry_run": true])
        #expect((backfill.object["runs"] as? [[String: Any]])?.compactMap { $0["dag_run_id"] as? String } == [
            "api_pipeline@2025-09-16T02:00:00Z", "api_pipeline@2025-09-17T02:00:00Z",
        ])
        try expectProblem(try await client.send("POST", "/api/v1/backfills", json: ["dag_id": "other_pipeline", "from": "2025-09-16T00:00:00Z", "to": "2025-09-18T00:00:00Z"]),
                          422, "not-backfillable", field: "dag_id")

        let pools = try await client.get("/api/v1/pools")
        #expect((pools.object["pools"] as? [[String: Any]])?.first?["slots"] as? Int == 2)
        let variables = try await client.get("/api/v1/variables")
        let vars = variables.object["variables"] as? [[String: Any]] ?? []
        #expect(vars.first { $0["key"] as? String == "API_TOKEN" }?["value"] as? String == "***")
        #expect(vars.first { $0["key"] as? String == "BASE_URL" }?["source"] as? String == "config file")
        let connections = try await client.get("/api/v1/connections")
        let warehouse = (connections.object["connections"] as? [[String: Any]])?.first
        #expect(warehouse?["uri"] as? String == "postgresql://analyst@127.0.0.1:5999/warehouse")
        #expect(warehouse?["has_password"] as? Bool == true)
        #expect(warehouse?["source"] as? String == "environment LOCKSTEP_CONN_WAREHOUSE")

        // Every other read, for the search below.
        for path in ["/api/v1/dags", "/api/v1/dags/api_pipeline", "/api/v1/runs", "/api/v1/runs/other_pipeline~r1",
                     "/api/v1/runs/other_pipeline~r1/events", "/api/v1/audit", "/api/v1/stats", "/api/v1/health", "/metrics"] {
            #expect(try await client.get(path).status == 200, "\(path)")
        }
        let secrets = [APITestSystem.connectionPassword, APITestSystem.connectionPassword.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!, "token-value-hidden"]
        for exchange in client.exchanges {
            let everything = exchange.text + exchange.headers.map { "\($0): \($1)" }.joined(separator: "\n")
            for secret in secrets { #expect(!everything.contains(secret), "\(exchange.method) \(exchange.path) shows a secret") }
        }
        await system.close()
        let lines = system.logs.all
        #expect(!lines.isEmpty)
        for line in lines { for secret in secrets.prefix(2) { #expect(!line.contains(secret), "a log line shows a secret: \(line)") } }
    }

    @Test func metricsParseWithPrometheusParserAndCountersMoveAfterARun() async throws {
        let system = try await APITestSystem()
        let client = APIClient(base: system.base)
        try await client.logIn("admin", system.adminPassword)
        let before = try await Prometheus.parse(try await client.get("/metrics").text)
        let key = #"lockstep_runs_finished_total{dag_id="api_pipeline",outcome="succeeded"}"#
        #expect(before[key] == 0)
        #expect(before[#"lockstep_build_info{version="\#(try #require(try await client.get("/api/v1/version").object["version"] as? String))"}"#] == 1)

        _ = try await client.send("POST", "/api/v1/dags/api_pipeline/runs", json: ["idempotency_key": "m1"])
        #expect(try await system.waitForRun("api_pipeline~m1").state == .succeeded)
        var after: [String: Double] = [:]
        // The coordinator's lag appears once it has committed an offset: at most 100 ms after it
        // handled a record (offsets are committed in the background).
        try await system.eventually("the run to be counted and the coordinator's lag reported") {
            after = try await Prometheus.parse(try await client.get("/metrics").text)
            return after[key] == 1 && after.keys.contains { $0.hasPrefix("lockstep_consumer_lag_records{group=\"lockstep-coordinator\"") }
        }
        #expect(after[#"lockstep_task_attempts_finished_total{dag_id="api_pipeline",state="succeeded",task_id="train"}"#] == 1)
        #expect(after[#"lockstep_run_duration_seconds_count{dag_id="api_pipeline",outcome="succeeded"}"#] == 1)
        #expect(after[#"lockstep_task_queued_seconds_count{dag_id="api_pipeline",task_id="train"}"#] == 1)
        #expect(after[#"lockstep_pool_open_slots{pool="ml"}"#] == 2)
        #expect(after.keys.contains { $0.hasPrefix("lockstep_consumer_lag_records{group=\"lockstep-coordinator\"") })
        #expect(!after.keys.contains { $0.contains("api_pipeline~") }, "no run ids in labels")
        await system.close()
    }
}

/// The Prometheus text format read by `prometheus_client`'s own parser (python3): samples by
/// `name{labels sorted}`; a parse failure fails the test.
enum Prometheus {
    static func parse(_ text: String) async throws -> [String: Double] {
        let script = """
            import sys, json
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for family in text_string_to_metric_families(sys.stdin.read()):
                for s in family.samples:
                    labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
                    out[s.name + ("{" + labels + "}" if labels else "")] = s.value
            print(json.dumps(out))
            """
        let output = try await Python.run(script, input: text)
        guard let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Double] else {
            throw TestFailure("the parser printed no samples: \(output)")
        }
        return object
    }
}

enum Python {
    /// Runs a python3 script with `input` on stdin; its stdout, or a failure with its stderr.
    static func run(_ script: String, input: String, arguments: [String] = []) async throws -> String {
        try await run(arguments: ["-c", script] + arguments, input: input)
    }

    /// Runs python3 with `arguments` in the package root.
    static func run(arguments: [String], input: String) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.currentDirectoryURL = TestPaths.packageRoot
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let writer = Task.detached {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        let out = Task.detached { stdout.fileHandleForReading.readDataToEndOfFile() }
        let err = Task.detached { stderr.fileHandleForReading.readDataToEndOfFile() }
        await writer.value
        let (o, e) = (await out.value, await err.value)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestFailure("python3 failed (\(process.terminationStatus)): \(String(decoding: o, as: UTF8.self))\(String(decoding: e, as: UTF8.self))")
        }
        return String(decoding: o, as: UTF8.self)
    }
}
