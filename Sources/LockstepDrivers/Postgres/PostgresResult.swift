/// What one statement returned: its columns, the rows kept (text, as libpq gives them), how many rows
/// there were in all, and the command tag (`INSERT 0 3`, `UPDATE 2`, `SELECT 5`).
public struct PostgresResult: Sendable, Hashable {
    public struct Column: Sendable, Hashable {
        public var name: String
        /// The column's type as a `pg_type` OID (23 int4, 25 text, 3802 jsonb, …).
        public var typeOID: UInt32

        public init(name: String, typeOID: UInt32) {
            self.name = name
            self.typeOID = typeOID
        }
    }

    public var columns: [Column]
    /// At most the row limit asked for; `nil` is SQL NULL.
    public var rows: [[String?]]
    /// Rows the statement returned, kept or not.
    public var rowCount: Int
    public var commandStatus: String
    /// Rows inserted, updated, deleted, selected, moved, fetched or copied; nil for commands that touch none (DDL).
    public var affectedRows: Int?

    public init(columns: [Column], rows: [[String?]], rowCount: Int, commandStatus: String, affectedRows: Int?) {
        self.columns = columns
        self.rows = rows
        self.rowCount = rowCount
        self.commandStatus = commandStatus
        self.affectedRows = affectedRows
    }
}
