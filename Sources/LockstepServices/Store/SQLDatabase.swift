import Foundation
import LockstepCore

/// The little SQL the state store needs, over SQLite (one machine) or PostgreSQL (many machines).
/// Blocking: callers run it on a thread of its own (see `StateStore`). SQL is written with `$1`-style
/// placeholders and ANSI upserts, which both dialects accept.
///
/// What may be sent again after a lost connection (PostgreSQL; see `PostgresDatabase`):
/// - a statement outside `transaction` may be sent twice, so it must be a read or an idempotent write
///   (an upsert of a given value, an insert `ON CONFLICT DO NOTHING`, a delete by key);
/// - a `transaction` body may run more than once (only ever one run commits), so it must do nothing
///   but SQL on this database and compute its result from what it read there.
package protocol SQLDatabase: AnyObject {
    var dialect: SQLDialect { get }
    /// Rows as text columns (NULL as nil).
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue]) throws -> [[String?]]
    func execute(_ sql: String) throws
    func transaction<T>(_ body: () throws -> T) throws -> T
    func close()
}

package enum SQLDialect: Sendable { case sqlite, postgres }

package enum SQLValue: Sendable, Hashable {
    case text(String?)
    case int(Int64)

    var text: String? {
        switch self {
        case .text(let s): s
        case .int(let i): String(i)
        }
    }
}

extension SQLDatabase {
    @discardableResult
    package func query(_ sql: String, _ parameters: SQLValue...) throws -> [[String?]] { try query(sql, parameters) }
}

/// Where the state lives: `sqlite:PATH` (or a plain path) or a `postgresql://` URI.
public enum StoreLocation: Sendable, Hashable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(uri: String)

    public init(_ text: String) {
        if text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") {
            self = .postgres(uri: text)
        } else if text.hasPrefix("sqlite:") {
            self = .sqlite(path: String(text.dropFirst("sqlite:".count)))
        } else {
            self = .sqlite(path: text)
        }
    }

    /// Never shows a password.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let uri): Redacted.uri(uri)
        }
    }
}
