import CSQLite
import Foundation
import LockstepDrivers

/// `SQLDatabase` on SQLite in WAL mode with `synchronous=FULL`: a commit is on disk when it returns.
package final class SQLiteDatabase: SQLDatabase {
    package let dialect = SQLDialect.sqlite
    private let connection: SQLiteConnection
    /// Each statement's text with SQLite's placeholders, by the text as written: translating it on
    /// every call (Foundation's `replacingOccurrences`) was a sixth of a store write's CPU.
    private var sqliteText: [String: String] = [:]

    /// The connection's page cache, in KiB. 1 MB holds what a commit touches again and again (the
    /// upper levels of the runs table and its indexes, the outbox, attempts and claims); SQLite's
    /// default 2 MB filled, once the store outgrew it, with pages of runs long finished, and stayed.
    /// 256 KiB was too little: a burst of 9,000 runs took half as long again (docs/performance.md).
    package static let pageCacheKiB = 1024

    package init(path: String) throws {
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        connection = try SQLiteConnection(path: path)
        try connection.useWriteAheadLog()
        try connection.execute("PRAGMA cache_size=-\(Self.pageCacheKiB)")
    }

    @discardableResult
    package func query(_ sql: String, _ parameters: [SQLValue]) throws -> [[String?]] {
        // `$1` placeholders become SQLite's numbered `?1`.
        let text: String
        if let known = sqliteText[sql] {
            text = known
        } else {
            text = String(sql.map { $0 == "$" ? "?" : $0 })
            sqliteText[sql] = text
        }
        let statement = try connection.statement(text)
        for (i, parameter) in parameters.enumerated() {
            switch parameter {
            case .int(let value): statement.bind(Int32(i + 1), value)
            case .text(let value): statement.bind(Int32(i + 1), value)
            }
        }
        let columns = statement.columnCount
        var rows: [[String?]] = []
        while try statement.step() {
            rows.append((0..<columns).map { statement.isNull($0) ? nil : statement.text($0) })
        }
        return rows
    }

    package func execute(_ sql: String) throws { try connection.execute(sql) }

    package func transaction<T>(_ body: () throws -> T) throws -> T {
        try connection.execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try connection.execute("COMMIT")
            return result
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }

    package var preparedStatementCount: Int { connection.preparedStatementCount }

    package func close() { connection.close() }
}
