import Foundation
import LockstepCore
import LockstepOperators
import LockstepTestSupport
import Testing

/// `examples/yaml-only`: a pipeline of generic operators only, run task by task as a worker would,
/// each with its ancestors' outputs, against a real PostgreSQL and a loopback webhook.
@Suite("The YAML-only example pipeline")
struct YAMLOnlyExampleTests {
    @Test("command → sql → http: the command's output is bound into the query, and the rows are posted")
    func runsEndToEnd() async throws {
        let file = TestPaths.packageRoot.appendingPathComponent("examples/yaml-only/dags/sector_digest.yaml")
        let cluster = try await PostgresCluster.shared()
        let webhook = try ScriptedHTTPServer { _ in (200, #"{"ok": true}"#) }
        let config = LockstepConfig(variables: ["DIGEST_WEBHOOK_URL": "\(webhook.baseURL)/hooks/digest"],
                                    connections: ["noblestride_postgres": cluster.uri()])
        let dag = try ConfigLoader.parseDag(try String(contentsOf: file, encoding: .utf8), file: file.path, config: config,
                                            operators: everyOperator.names)
        #expect(Set(dag.tasks.map(\.operator)) == ["command", "sql", "http"])

        let run = "sector_digest~example"
        var outputs: [String: JSONValue] = [:]
        for task in dag.tasks {
            let upstream = outputs.filter { dag.ancestors(of: task.id).contains($0.key) }
            let attempt = try LoggedAttempt(dag: dag.id, task: task.id, run: run, params: task.params, conf: ["sector": "edtech"],
                                            upstream: upstream, variables: config.variables, connections: config.connections)
            let (result, lines) = await attempt.run(task.operator)
            switch result {
            case .success(let r): outputs[task.id] = r.output
            case .failure(let e):
                Issue.record("\(task.id) failed: \(e)\n\(lines.map(\.text).joined(separator: "\n"))")
                return
            }
            if task.id == "pick_sector" { #expect(lines.contains { $0.stream == .stdout && $0.text == "reporting on edtech" }) }
        }

        #expect(outputs["pick_sector"] == ["sector": "edtech", "min_amount": 100000, "week_of": "2025-09-18T02:00:00.000Z"])
        let expected = try cluster.psql("""
            SELECT count(*), sum(d.amount)::bigint, count(DISTINCT d.investor_id) FROM deals d JOIN businesses b ON b.id = d.business_id
            WHERE d.status = 'closed' AND b.sector = 'edtech' AND d.amount >= 100000
            """, database: "noblestride").split(separator: "|").compactMap { Int64($0) }
        guard expected.count == 3, expected[0] > 0 else {
            Issue.record("the sample data should have closed edtech deals over 100000: \(expected)")
            return
        }
        let row: JSONValue = ["sector": "edtech", "closed_deals": .int(expected[0]), "total_amount": .int(expected[1]),
                              "investors": .int(expected[2])]
        #expect(outputs["sector_deals"]?["rows"] == [row])

        let post = try #require(webhook.received.last)
        #expect(post.method == "POST")
        #expect(post.path == "/hooks/digest")
        #expect(post.headers["idempotency-key"] == IdempotencyKey.make(dagID: "sector_digest", runID: run, taskID: "publish_digest"))
        #expect(post.headers["x-digest-week"] == "2025-09-18T02:00:00.000Z")
        #expect(try JSONValue.parse(String(decoding: post.body, as: UTF8.self))
            == ["sector": "edtech", "summary": [row], "rows": 1, "run": .string(run)])
        #expect(outputs["publish_digest"] == ["status": 200, "body": ["ok": true]])
    }
}
