import Foundation
import LockstepCore
import LockstepDrivers

extension Params {
    /// The named connection's URI, or a config error saying how to define it.
    func connection(_ context: OperatorContext) throws(OperatorError) -> (name: String, uri: String) {
        let name = try requiredString("connection")
        guard let uri = context.connections[name] else {
            throw .config("task \(origin): unknown connection `\(name)`; set it under connections in lockstep.yaml "
                + "or as LOCKSTEP_CONN_\(name.uppercased())")
        }
        return (name, uri)
    }
}

/// `postgres_counts`: `SELECT count(*)` of each listed table, output as `<table>_count` (training `extract_data`).
struct PostgresCountsOperator: TaskOperator {
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        let (name, uri) = try params.connection(context)
        guard let tables = try params.strings("tables"), !tables.isEmpty else {
            throw .config("task \(params.origin): param `tables` must list at least one table")
        }
        let budget = try context.budget(cap: try params.seconds("timeout", default: 60))
        let counts = try await driving { () async throws(DriverError) in try await PostgresSession.run(connection: name, uri: uri, budget: budget) { db throws(DriverError) in
            // One snapshot for all counts, so the totals downstream describe one moment.
            try db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            var counts: [(String, Int64)] = []
            for table in tables {
                counts.append((table, try db.count(try db.quoteIdentifier(table))))
            }
            try db.query("COMMIT")
            return counts
        } }
        var output: [String: JSONValue] = [:]
        for (table, count) in counts { output["\(table)_count"] = .int(count) }
        context.taskLogger.info("counted tables", metadata: ["counts": .string(JSONValue.object(output).canonicalJSON())])
        return OperatorResult(output: .object(output))
    }
}

/// `table_summary`: row counts of every base table in `schemas` (default `public`), from
/// information_schema: BASE TABLE only (no views, foreign tables or partitions), never the system schemas.
struct TableSummaryOperator: TaskOperator {
    static let systemSchemas: Set<String> = ["pg_catalog", "information_schema", "pg_toast"]

    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        let (name, uri) = try params.connection(context)
        let schemas = (try params.strings("schemas") ?? ["public"]).filter { !Self.systemSchemas.contains($0) }
        guard !schemas.isEmpty else { throw .config("task \(params.origin): param `schemas` names no user schema") }
        let budget = try context.budget(cap: try params.seconds("timeout", default: 60))
        let counts = try await driving { () async throws(DriverError) in try await PostgresSession.run(connection: name, uri: uri, budget: budget) { db throws(DriverError) in
            try db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            let placeholders = schemas.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
            // Partitions are left out: their parent's count already includes their rows.
            let tables = try db.query("""
                SELECT t.table_schema, t.table_name
                FROM information_schema.tables t
                JOIN pg_catalog.pg_namespace n ON n.nspname = t.table_schema
                JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name
                WHERE t.table_type = 'BASE TABLE' AND NOT c.relispartition AND t.table_schema IN (\(placeholders))
                ORDER BY t.table_schema, t.table_name
                """, schemas)
            var counts: [(String, Int64)] = []
            for row in tables {
                guard let schema = row[0], let table = row[1] else { continue }
                let qualified = "\(try db.quoteIdentifier(schema)).\(try db.quoteIdentifier(table))"
                counts.append((schema == "public" ? table : "\(schema).\(table)", try db.count(qualified)))
            }
            try db.query("COMMIT")
            return counts
        } }
        var summary: [String: JSONValue] = [:]
        for (table, count) in counts { summary[table] = .int(count) }
        let total = counts.reduce(Int64(0)) { $0 + $1.1 }
        context.taskLogger.info("summarised tables", metadata: ["tables": .stringConvertible(counts.count), "total": .stringConvertible(total)])
        return OperatorResult(output: [
            "table_summary": .object(summary),
            "total_records": .int(total),
            "table_count": .int(Int64(counts.count)),
        ])
    }
}
