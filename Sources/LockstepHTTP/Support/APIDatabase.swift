import Foundation
import LockstepDrivers
import LockstepServices

/// The API's own connection to the state store's database, for the users and sessions tables
/// (migration 4) that `UserDirectory` reads and writes. SQLite through the store's `SQLiteDatabase`; PostgreSQL on one libpq
/// connection (the store's reconnecting `PostgresDatabase` is internal to LockstepServices): a
/// lost PostgreSQL connection fails the request, and the next request reconnects.
enum APIDatabase {
    static func open(_ location: StoreLocation) throws -> any SQLDatabase {
        switch location {
        case .sqlite(let path): try SQLiteDatabase(path: path)
        case .postgres(let uri): try APIPostgresDatabase(uri: uri)
        }
    }
}

/// `SQLDatabase` on one libpq connection, reopened after a broken one. Blocking: used from the
/// owning actor's dedicated thread only.
final class APIPostgresDatabase: SQLDatabase {
    let dialect = SQLDialect.postgres
    private let uri: String
    private var connection: PostgresConnection?

    init(uri: String) throws {
        self.uri = uri
        connection = try Self.connect(uri)
    }

    private static func connect(_ uri: String) throws -> PostgresConnection {
        let connection = try PostgresConnection(uri: uri, name: "API store connection", connectTimeout: .seconds(10))
        try connection.query("SET client_min_messages TO warning")
        return connection
    }

    private func live() throws -> PostgresConnection {
        if let connection { return connection }
        let fresh = try Self.connect(uri)
        connection = fresh
        return fresh
    }

    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue]) throws -> [[String?]] {
        let values = parameters.map { value -> String in
            switch value {
            case .text(let s): s ?? ""
            case .int(let i): String(i)
            }
        }
        do { return try live().query(sql, values) } catch {
            if !(connection.map { stillWorks($0) } ?? false) { connection?.close(); connection = nil }
            throw error
        }
    }

    func execute(_ sql: String) throws { try query(sql, []) }

    func transaction<T>(_ body: () throws -> T) throws -> T {
        try query("BEGIN", [])
        do {
            let result = try body()
            try query("COMMIT", [])
            return result
        } catch {
            _ = try? query("ROLLBACK", [])
            throw error
        }
    }

    func close() {
        connection?.close()
        connection = nil
    }

    /// Whether the connection still works after a failed statement (a constraint error leaves it
    /// usable; a dropped server does not).
    private func stillWorks(_ connection: PostgresConnection) -> Bool {
        (try? connection.query("SELECT 1")) != nil
    }
}
