import Foundation
import LockstepCore
import LockstepOperators
import LockstepTestSupport
import Testing

/// The integration DAG's tail: sync_fastapi → integration_report, with the real FastAPI service.
@Suite("Integration operators")
struct IntegrationPipelineTests {
    static let summary: JSONValue = [
        "table_summary": ["users": 1247, "businesses": 150, "investors": 75, "deals": 89, "feedback": 542],
        "total_records": 2103, "table_count": 5,
    ]
    static let healthy: JSONValue = ["nodejs_service": "healthy", "fastapi_service": "healthy", "check_timestamp": "2025-09-18T02:00:01.000Z"]

    @Test("sync_fastapi: posts the seed's sync package with an idempotency key")
    func synced() async throws {
        let fastapi = try await FastAPIService.shared()
        let run = "run-\(UInt32.random(in: 0...UInt32.max))"
        let result = try await expectSuccess("sync_fastapi", try syncContext("{{ var.FASTAPI_BASE_URL }}", health: Self.healthy,
                                                                             variables: ["FASTAPI_BASE_URL": fastapi.baseURL], run: run))
        #expect(result.output["sync_status"] == "synced")
        #expect(result.warnings.isEmpty)
        let key = "lockstep:noblestride_integration_pipeline:\(run):sync_fastapi"
        #expect(result.output["idempotency_key"]?.stringValue == key)
        let items = try await fastapi.received(idempotencyKey: key)
        #expect(items.count == 1)
        let item = try #require(items.first)
        #expect(item["kind"] == "sync_package")
        #expect(item["payload"] == [
            "source": "noblestride_database",
            "table_summary": ["users": 1247, "businesses": 150, "investors": 75, "deals": 89, "feedback": 542],
            "sync_timestamp": "2025-09-18T02:00:05.250Z", "total_records": 2103,
        ])
    }

    @Test("sync_fastapi: FastAPI unhealthy upstream → skipped, succeeds with a warning, posts nothing")
    func skipped() async throws {
        let fastapi = try await FastAPIService.shared()
        let run = "run-\(UInt32.random(in: 0...UInt32.max))"
        let health: JSONValue = ["nodejs_service": "healthy", "fastapi_service": "unhealthy"]
        let result = try await expectSuccess("sync_fastapi", try syncContext(fastapi.baseURL, health: health, run: run))
        #expect(result.output["sync_status"] == "skipped")
        #expect(result.output["reason"]?.stringValue?.contains("fastapi_service") == true)
        #expect(result.warnings.count == 1)
        #expect(try await fastapi.received(idempotencyKey: "lockstep:noblestride_integration_pipeline:\(run):sync_fastapi").isEmpty)
    }

    @Test("sync_fastapi: a POST that times out → sync_status timeout, succeeds with a warning")
    func timedOut() async throws {
        let fastapi = try await FastAPIService.start()
        defer { fastapi.stop() }
        try await fastapi.control(["delay_seconds": 5])
        let result = try await expectSuccess("sync_fastapi", try syncContext(fastapi.baseURL, health: Self.healthy, timeout: 1))
        #expect(result.output["sync_status"] == "timeout")
        #expect(result.warnings.first?.contains("timeout") == true)
    }

    @Test("sync_fastapi: a server that never answers → timeout, within the deadline")
    func silent() async throws {
        let silent = try SilentServer()
        let result = try await expectSuccess("sync_fastapi", try syncContext(silent.baseURL, health: Self.healthy, timeout: 1))
        #expect(result.output["sync_status"] == "timeout")
        withExtendedLifetime(silent) {}
    }

    @Test("sync_fastapi: connection refused or HTTP 500 → failed, succeeds with a warning")
    func failed() async throws {
        let port = try ClosedPort.next()
        let refused = try await expectSuccess("sync_fastapi", try syncContext("http://127.0.0.1:\(port)", health: Self.healthy))
        #expect(refused.output["sync_status"] == "failed")
        #expect(refused.output["cause"] == "unavailable")
        #expect(refused.warnings.count == 1)

        let fastapi = try await FastAPIService.start(environment: ["FASTAPI_FAIL_STATUS": "500"])
        defer { fastapi.stop() }
        let status500 = try await expectSuccess("sync_fastapi", try syncContext(fastapi.baseURL, health: Self.healthy))
        #expect(status500.output["sync_status"] == "failed")
        #expect(status500.output["http_status"] == 500)
    }

    @Test("integration_report: writes the five sections atomically into the reports dir")
    func report() async throws {
        let reports = try TestPaths.temporaryDirectory("lockstep-reports")
        let sync: JSONValue = ["sync_status": "synced", "sync_timestamp": "2025-09-18T02:00:04.000Z", "http_status": 200]
        let context = try makeContext(dag: "noblestride_integration_pipeline", task: "generate_report", tryNumber: 2,
                                      params: ["reports_dir": "{{ var.REPORTS_DIR }}"],
                                      upstream: ["check_services": Self.healthy, "extract_data": Self.summary, "sync_fastapi": sync],
                                      variables: ["REPORTS_DIR": reports.path])
        let result = try await expectSuccess("integration_report", context)
        let path = try #require(result.output["report_path"]?.stringValue)
        #expect(path == reports.appendingPathComponent("noblestride_integration_report_20250918_020000.json").path)
        #expect(result.output["status"] == "success")
        let report = try JSONValue.parse(String(contentsOfFile: path, encoding: .utf8))
        #expect(report["pipeline_execution"]?["dag_id"] == "noblestride_integration_pipeline")
        #expect(report["pipeline_execution"]?["try_number"] == 2)
        #expect(report["pipeline_execution"]?["logical_date"] == "2025-09-18T02:00:00.000Z")
        #expect(report["service_health"]?["fastapi_service"] == "healthy")
        #expect(report["database_summary"]?["total_records"] == 2103)
        #expect(report["database_summary"]?["table_summary"]?["users"] == 1247)
        #expect(report["integration_status"]?["sync_status"] == "synced")
        #expect(report["timestamps"]?["generated_at"] == "2025-09-18T02:00:05.250Z")
        #expect(try FileManager.default.contentsOfDirectory(atPath: reports.path).count == 1, "no temporary file left behind")
    }

    @Test("integration_report: a skipped sync and a down service make the report say so")
    func reportWithWarnings() async throws {
        let reports = try TestPaths.temporaryDirectory("lockstep-reports")
        let health: JSONValue = ["nodejs_service": "healthy", "fastapi_service": "unhealthy"]
        let sync: JSONValue = ["sync_status": "skipped", "reason": "fastapi_service was unhealthy in `check_services`"]
        let result = try await expectSuccess("integration_report", try makeContext(
            params: ["reports_dir": .string(reports.path)],
            upstream: ["check_services": health, "extract_data": Self.summary, "sync_fastapi": sync]))
        #expect(result.output["status"] == "completed_with_warnings")
        let report = try JSONValue.parse(String(contentsOfFile: try #require(result.output["report_path"]?.stringValue), encoding: .utf8))
        let warnings = report["integration_status"]?["warnings"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(warnings.contains("service fastapi_service was unhealthy"))
        #expect(warnings.contains { $0.hasPrefix("FastAPI sync skipped") })
    }

    private func syncContext(_ base: String, health: JSONValue, variables: [String: String] = [:], timeout: Double = 30,
                             run: String = "run-1") throws -> OperatorContext {
        try makeContext(dag: "noblestride_integration_pipeline", task: "sync_fastapi", run: run,
                        params: ["url": "\(base)/api/model/training-complete", "timeout": .double(timeout)],
                        upstream: ["check_services": health, "extract_data": Self.summary], variables: variables)
    }
}
