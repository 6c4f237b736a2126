import Foundation
import LockstepCore
import LockstepOperators
import LockstepTestSupport
import Testing

/// A password set only through the environment must not reach a log line, an output, an event, an error or a report.
@Suite("Secrets stay out of logs, outputs, errors and reports")
struct SecretRedactionTests {
    @Test("LOCKSTEP_CONN_ password: absent from logs, outputs, events, errors and the integration report")
    func passwordNeverLeaks() async throws {
        let cluster = try await PostgresCluster.shared()
        let secret = "S3cr3t-\(UInt32.random(in: 0...UInt32.max))-pw"
        try cluster.psql("CREATE ROLE leaky LOGIN PASSWORD '\(secret)'; GRANT pg_read_all_data TO leaky")
        let uri = "postgresql://leaky:\(secret)@127.0.0.1:\(cluster.port)/noblestride"
        let config = LockstepConfig(variables: ["FASTAPI_BASE_URL": "http://127.0.0.1:1"])
            .applyingEnvironment(["LOCKSTEP_CONN_NOBLESTRIDE_POSTGRES": uri])
        #expect(config.connections["noblestride_postgres"] == uri)

        let logs = LogCapture()
        let reports = try TestPaths.temporaryDirectory("lockstep-secret-reports")
        var seen: [String] = []
        func context(_ task: String, _ params: [String: JSONValue], upstream: [String: JSONValue] = [:], connections: [String: String]? = nil) throws -> OperatorContext {
            try makeContext(dag: "noblestride_integration_pipeline", task: task, params: params, upstream: upstream,
                            variables: config.variables, connections: connections ?? config.connections, logs: logs)
        }
        func record(_ result: Result<OperatorResult, OperatorError>) {
            switch result {
            case .success(let r):
                seen.append(r.output.canonicalJSON())
                seen += r.warnings
                seen += r.events.map { $0.data.canonicalJSON() }
            case .failure(let e):
                seen.append(e.description)
                seen.append(e.json.canonicalJSON())
            }
        }

        let summary = await runOperator("table_summary", try context("extract_data", ["connection": "noblestride_postgres"]))
        record(summary)
        let output = try summary.get().output
        #expect(output["total_records"] == 2103, "the secret-bearing connection works")
        record(await runOperator("postgres_counts", try context("counts", ["connection": "noblestride_postgres", "tables": ["investors", "nope"]])))
        // The same password with the wrong user, and the right user with a broken URI: both fail, neither echoes it.
        record(await runOperator("table_summary", try context("t", ["connection": "noblestride_postgres"], connections: [
            "noblestride_postgres": "postgresql://nobody:\(secret)@127.0.0.1:\(cluster.port)/noblestride"])))
        record(await runOperator("table_summary", try context("t", ["connection": "noblestride_postgres"], connections: [
            "noblestride_postgres": "postgresql://leaky:\(secret)%zz@127.0.0.1:\(cluster.port)/noblestride"])))
        let sync = await runOperator("sync_fastapi", try context("sync_fastapi", ["url": "{{ var.FASTAPI_BASE_URL }}/api/model/training-complete", "timeout": 2],
                                                                  upstream: ["extract_data": output]))
        record(sync)
        let report = await runOperator("integration_report", try context("generate_report", ["reports_dir": .string(reports.path)],
                                                                          upstream: ["extract_data": output, "sync_fastapi": try sync.get().output]))
        record(report)
        let reportText = try String(contentsOfFile: try #require(try report.get().output["report_path"]?.stringValue), encoding: .utf8)

        #expect(seen.count >= 6)
        let failures = seen.filter { $0.contains("failed") || $0.contains("auth") }
        #expect(!failures.isEmpty, "the failing cases were exercised")
        for text in seen + [logs.text, reportText] {
            #expect(!text.contains(secret), "secret leaked into: \(text.prefix(300))")
        }
        #expect(!logs.text.isEmpty, "logs were captured")
        #expect(logs.text.contains("summarised tables"))
    }
}
