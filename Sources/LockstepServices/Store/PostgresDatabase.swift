import Foundation
import LockstepDrivers

/// `SQLDatabase` on one libpq connection (blocking; used from the store's own thread).
package final class PostgresDatabase: SQLDatabase {
    package let dialect = SQLDialect.postgres
    private let connection: PostgresConnection

    package init(uri: String) throws {
        connection = try PostgresConnection(uri: uri, name: "state store", connectTimeout: .seconds(10))
        // `CREATE … IF NOT EXISTS` on every start would otherwise print a notice per table.
        try connection.query("SET client_min_messages TO warning")
    }

    @discardableResult
    package func query(_ sql: String, _ parameters: [SQLValue]) throws -> [[String?]] {
        try connection.query(sql, parameters.map { $0.text ?? "" })
    }

    package func execute(_ sql: String) throws { try connection.query(sql) }

    package func transaction<T>(_ body: () throws -> T) throws -> T {
        try connection.query("BEGIN")
        do {
            let result = try body()
            try connection.query("COMMIT")
            return result
        } catch {
            _ = try? connection.query("ROLLBACK")
            throw error
        }
    }

    package func close() { connection.close() }
}
