import CSQLite
import Foundation

/// One SQLite connection with cached prepared statements. Not thread-safe and not Sendable: each
/// owner (an actor of the embedded log, the state store) uses it only from its own isolation, which
/// is why it is opened with SQLITE_OPEN_NOMUTEX.
public final class SQLiteConnection {
    public let path: String
    private var handle: OpaquePointer?
    private var statements: [String: SQLiteStatement] = [:]

    public init(path: String) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteError(path: path, operation: "open", code: rc, message: message)
        }
        handle = db
        // Another process (the CLI, a second standalone) may hold the write lock for one transaction;
        // waiting a while for it beats failing a publish.
        sqlite3_busy_timeout(db, 10_000)
    }

    deinit { close() }

    public var isOpen: Bool { handle != nil }

    /// Prepared statements kept for reuse: one per distinct SQL text, for the connection's life.
    public var preparedStatementCount: Int { statements.count }

    public func close() {
        for statement in statements.values { statement.finalize() }
        statements = [:]
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    public func execute(_ sql: String) throws(SQLiteError) {
        guard let handle else { throw SQLiteError(path: path, operation: "use", code: 21, message: "the connection is closed") }
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(path: path, operation: sql, code: rc, message: text)
        }
    }

    /// WAL (readers never block the writer or each other) and FULL sync (a commit that returned
    /// survives a power cut or kill -9). Switching a new file to WAL needs a moment of exclusive
    /// access that another process opening it at the same time may hold, and SQLite reports that as
    /// busy without waiting, so it is retried here for up to 10 s.
    public func useWriteAheadLog() throws(SQLiteError) {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                try execute("PRAGMA journal_mode=WAL")
                break
            } catch {
                guard error.isBusy, ContinuousClock.now < deadline
                else { throw error }
                usleep(20_000)
            }
        }
        try execute("PRAGMA synchronous=FULL")
    }

    /// A prepared statement for `sql`, reset and with its bindings cleared.
    public func statement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        guard let handle else { throw SQLiteError(path: path, operation: "use", code: 21, message: "the connection is closed") }
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else {
            throw SQLiteError(path: path, operation: "prepare \(sql)", code: rc, message: String(cString: sqlite3_errmsg(handle)))
        }
        let statement = SQLiteStatement(raw, connection: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { handle.map { Int(sqlite3_changes($0)) } ?? 0 }

    func error(_ operation: String, _ rc: Int32) -> SQLiteError {
        SQLiteError(path: path, operation: operation, code: rc,
                message: handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed")
    }

    /// Runs `body` in a write transaction taken up front (BEGIN IMMEDIATE), so two processes never
    /// deadlock upgrading read locks; rolls back if `body` throws. SQLite's own failures reach the
    /// caller through `mapError`, so a caller keeps one error type.
    public func writeTransaction<T, E: Error>(mapError: (SQLiteError) -> E, _ body: () throws(E) -> T) throws(E) -> T {
        do { try execute("BEGIN IMMEDIATE") } catch { throw mapError(error) }
        let result: T
        do { result = try body() } catch {
            try? execute("ROLLBACK")
            throw error
        }
        do { try execute("COMMIT") } catch {
            try? execute("ROLLBACK")
            throw mapError(error)
        }
        return result
    }
}

/// A prepared statement; bind by 1-based index, step, read columns by 0-based index.
public final class SQLiteStatement {
    private var handle: OpaquePointer?
    private unowned let connection: SQLiteConnection
    let sql: String
    // SQLITE_TRANSIENT: SQLite copies the bytes, so Swift buffers need not outlive the call.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(_ handle: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.handle = handle
        self.connection = connection
        self.sql = sql
    }

    func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    @discardableResult
    public func bind(_ index: Int32, _ value: Int64) -> Self {
        sqlite3_bind_int64(handle, index, value)
        return self
    }

    @discardableResult
    public func bind(_ index: Int32, _ value: String?) -> Self {
        if let value {
            sqlite3_bind_text(handle, index, value, -1, SQLiteStatement.transient)
        } else {
            sqlite3_bind_null(handle, index)
        }
        return self
    }

    @discardableResult
    public func bind(_ index: Int32, bytes: [UInt8]) -> Self {
        _ = bytes.withUnsafeBytes { buffer in
            // A zero-length blob still needs a non-null pointer, or SQLite stores NULL.
            sqlite3_bind_blob(handle, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(buffer.count),
                              SQLiteStatement.transient)
        }
        return self
    }

    /// True while a row is available; false once done.
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = connection.error(sql, rc)
            sqlite3_reset(handle)
            throw error
        }
    }

    public func run() throws(SQLiteError) {
        while try step() {}
    }

    /// Reads the first row, if any, and resets at once. A statement left mid-result keeps its read
    /// transaction open: every later query on the connection would see that old snapshot, and the WAL
    /// could not be checkpointed past it.
    public func firstRow<T>(_ read: (SQLiteStatement) -> T) throws(SQLiteError) -> T? {
        defer { sqlite3_reset(handle) }
        return try step() ? read(self) : nil
    }

    public var columnCount: Int32 { sqlite3_column_count(handle) }
    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    public func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        return String(cString: pointer)
    }
    public func bytes(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let pointer = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}
