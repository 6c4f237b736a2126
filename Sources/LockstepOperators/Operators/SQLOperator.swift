import Foundation
import LockstepCore
import LockstepDrivers

/// `sql`: one or more statements in one transaction on a named PostgreSQL connection, with values bound
/// as `$1…` parameters (never spliced into the text). Output: the last statement's rows as JSON objects
/// keyed by column name (capped by `row_limit` and `output_limit`, with `rows_omitted`), its row count,
/// the rows it affected and its command tag.
struct SQLOperator: TaskOperator {
    static let defaultRowLimit = 1000
    static let defaultOutputLimit = 1 << 20

    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        let origin = params.origin
        let (name, uri) = try params.connection(context)
        let statements = try Self.statements(params)
        let bindings = try Self.parameters(params, statements: statements.count)
        let rowLimit = try params.int("row_limit", default: Self.defaultRowLimit)
        guard rowLimit >= 0 else { throw .config("task \(origin): param `row_limit` must be 0 or more") }
        let outputLimit = try CommandSpec.bytes(params["output_limit"], default: Self.defaultOutputLimit, param: "output_limit",
                                                origin: origin)
        var cap: Duration?
        if params["timeout"] != nil { cap = try params.seconds("timeout", default: 0) }
        let budget = try context.budget(cap: cap)
        // The server enforces it, so a runaway statement is cancelled where it runs, not merely abandoned.
        var statementTimeout: Duration?
        if params["statement_timeout"] != nil {
            let wanted = try params.seconds("statement_timeout", default: 0)
            guard wanted > .zero else { throw .config("task \(origin): param `statement_timeout` must be more than 0 seconds") }
            statementTimeout = min(wanted, budget)
        }

        let localTimeout = statementTimeout
        context.log.info("running \(statements.count) statement\(statements.count == 1 ? "" : "s") on `\(name)` in one transaction")
        let last = try await driving { () async throws(DriverError) in
            try await PostgresSession.run(connection: name, uri: uri, budget: budget) { db throws(DriverError) in
                try db.query("BEGIN")
                if let localTimeout {
                    try db.query("SET LOCAL statement_timeout = \(max(1, Int(localTimeout.seconds * 1000)))")
                }
                var last: PostgresResult?
                for (index, statement) in statements.enumerated() {
                    do throws(DriverError) {
                        last = try db.execute(statement, bindings[index], rowLimit: index == statements.count - 1 ? rowLimit : 0)
                    } catch {
                        throw Self.annotated(error, index: index, of: statements.count, statement: statement)
                    }
                }
                try db.query("COMMIT")
                // `statements` is never empty, so the loop ran at least once.
                return last!
            }
        }

        var rows: [JSONValue] = []
        var size = 0
        for row in last.jsonRows {
            size += row.canonicalJSON().utf8.count + 1
            if size > outputLimit { break }
            rows.append(row)
        }
        let omitted = last.rowCount - rows.count
        context.log.info("\(last.commandStatus): \(last.rowCount) row\(last.rowCount == 1 ? "" : "s") returned"
            + (omitted > 0 ? ", \(omitted) omitted from the output" : ""))
        var warnings: [String] = []
        if omitted > 0, rows.count < min(rowLimit, last.rowCount) {
            warnings.append("rows beyond output_limit (\(outputLimit) bytes) were left out of the output")
        }
        return OperatorResult(output: [
            "rows": .array(rows),
            "columns": .array(last.jsonKeys.map(JSONValue.string)),
            "row_count": .int(Int64(last.rowCount)),
            "rows_omitted": .int(Int64(omitted)),
            "affected_rows": last.affectedRows.map { JSONValue.int(Int64($0)) } ?? .null,
            "command": .string(last.commandStatus),
        ], warnings: warnings)
    }

    private static func statements(_ params: Params) throws(OperatorError) -> [String] {
        let origin = params.origin
        guard let value = params["sql"], value != .null else {
            throw .config("task \(origin): param `sql` is required: one statement, or a list of statements run in one transaction")
        }
        let list: [String]
        if let text = value.stringValue {
            list = [text]
        } else if let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) {
            list = items.compactMap(\.stringValue)
        } else {
            throw .config("task \(origin): param `sql` must be a statement or a list of statements")
        }
        guard !list.isEmpty, list.allSatisfy({ !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) else {
            throw .config("task \(origin): param `sql` holds an empty statement")
        }
        return list
    }

    /// One list of bound values per statement: `parameters` is the list of values for a single statement,
    /// or a list of lists (one per statement) for several.
    private static func parameters(_ params: Params, statements: Int) throws(OperatorError) -> [[String?]] {
        let origin = params.origin
        guard let value = params["parameters"], value != .null else { return Array(repeating: [], count: statements) }
        guard let list = value.arrayValue else {
            throw .config("task \(origin): param `parameters` must be a list of values bound as $1, $2, …")
        }
        // One statement: the list is its values (a list inside binds as JSON, for a json/jsonb parameter).
        if statements == 1 { return [list.map(bound)] }
        guard list.allSatisfy({ $0.arrayValue != nil }), list.count == statements else {
            throw .config("task \(origin): with \(statements) statements, `parameters` must be a list of \(statements) lists, "
                + "one per statement (use [] for a statement without parameters)")
        }
        return list.map { ($0.arrayValue ?? []).map(bound) }
    }

    /// A value as bound text: strings as they are, numbers and booleans as literals, lists and objects as
    /// JSON (for json/jsonb parameters), null as SQL NULL.
    private static func bound(_ value: JSONValue) -> String? {
        switch value {
        case .null: nil
        case .string(let s): s
        default: value.canonicalJSON()
        }
    }

    private static func annotated(_ error: DriverError, index: Int, of count: Int, statement: String) -> DriverError {
        var copy = error
        if count > 1 {
            let excerpt = statement.trimmingCharacters(in: .whitespacesAndNewlines).prefix(80)
            copy.message = "statement \(index + 1) of \(count) (`\(excerpt)`): \(error.message)"
        }
        if error.sqlstate == "42601", error.message.contains("multiple commands") {
            copy.message += "; give each statement its own entry in a list under `sql`"
        }
        if error.category == .timeout { copy.message += "; raise `statement_timeout` or the task's timeout if the work is expected to take longer" }
        return copy
    }
}
