import Foundation
import LockstepCore
import LockstepOperators

/// `integration_report`: writes `noblestride_integration_report_<YYYYMMDD_HHMMSS>.json` (from the logical
/// date, so a retry rewrites the same file) with the seed's five sections. Missing upstream outputs
/// are reported as such rather than failing: the report exists to describe a partial run too.
struct IntegrationReportOperator: TaskOperator {
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        let directory: URL
        if let dir = try params.string("reports_dir") { directory = URL(fileURLWithPath: dir, isDirectory: true) }
        else if let dir = context.variables["REPORTS_DIR"] { directory = URL(fileURLWithPath: dir, isDirectory: true) }
        else { directory = context.reportsDirectory }
        let healthSource = try params.string("health_source") ?? "check_services"
        let summarySource = try params.string("summary_source") ?? "extract_data"
        let syncSource = try params.string("sync_source") ?? "sync_fastapi"

        var warnings: [String] = []
        var missing: [String] = []
        func section(_ task: String) -> [String: JSONValue]? {
            guard let output = context.upstream[task]?.objectValue else { missing.append(task); return nil }
            return output
        }
        let health = section(healthSource)
        let summary = section(summarySource)
        let sync = section(syncSource)

        for (name, value) in (health ?? [:]).sorted(by: { $0.key < $1.key }) where value.stringValue == "unhealthy" {
            warnings.append("service \(name) was unhealthy")
        }
        let syncStatus = sync?["sync_status"]?.stringValue ?? "unknown"
        if sync != nil, syncStatus != "synced" {
            warnings.append("FastAPI sync \(syncStatus)" + (sync?["reason"]?.stringValue.map { ": \($0)" } ?? ""))
        }
        warnings += missing.map { "no output from upstream task `\($0)`" }
        let status = warnings.isEmpty ? "success" : "completed_with_warnings"

        let generatedAt = Timestamp.iso(context.now)
        let report: JSONValue = [
            "report_type": "noblestride_integration",
            "pipeline_execution": [
                "dag_id": .string(context.dagID),
                "run_id": .string(context.runID),
                "task_id": .string(context.taskID),
                "logical_date": .string(Timestamp.iso(context.logicalDate)),
                "try_number": .int(Int64(context.tryNumber)),
            ],
            "service_health": health.map { .object($0) } ?? .null,
            "database_summary": summary.map { s in
                [
                    "table_summary": s["table_summary"] ?? .object(EntityCounts(s).counts.mapValues { .int($0) }),
                    "total_records": .int(EntityCounts(s).total),
                    "table_count": s["table_count"] ?? .int(Int64(EntityCounts(s).counts.count)),
                ]
            } ?? .null,
            "integration_status": [
                "status": .string(status),
                "sync_status": .string(syncStatus),
                "sync": sync.map { .object($0) } ?? .null,
                "warnings": .array(warnings.map { .string($0) }),
            ],
            "timestamps": [
                "generated_at": .string(generatedAt),
                "logical_date": .string(Timestamp.iso(context.logicalDate)),
                "health_checked_at": health?["check_timestamp"] ?? .null,
                "synced_at": sync?["sync_timestamp"] ?? .null,
            ],
        ]
        let file = directory.appendingPathComponent("noblestride_integration_report_\(Timestamp.compact(context.logicalDate)).json")
        try AtomicFile.write(json: report, to: file)
        context.taskLogger.info("integration report written", metadata: ["path": .string(file.path), "status": .string(status)])
        return OperatorResult(
            output: ["report_path": .string(file.path), "status": .string(status), "warnings": .int(Int64(warnings.count))],
            warnings: missing.map { "report has no `\($0)` section: that task left no output" })
    }
}
