import LockstepCore

/// The kind of a failure, shared by the drivers and by everything built on them: what a retry
/// policy, an alert or a dashboard groups by.
public enum FailureCategory: Sendable, Hashable {
    /// The deadline or a per-request timeout passed.
    case timeout
    /// Nothing answered: connection refused, DNS failure, connection dropped, server shutting down.
    case unavailable
    /// The server answered with a non-success HTTP status.
    case httpStatus(Int)
    /// Credentials were refused or lack privileges.
    case auth
    /// PostgreSQL reported an error with this SQLSTATE.
    case sql(sqlstate: String)
    /// TLS could not be established or the certificate was rejected.
    case tls
    /// The configuration is wrong (a URI, a param, a variable): fix it, a retry will not help.
    case config
    /// An upstream task's output lacks what this task needs.
    case input
    /// The server answered with something that is not what the protocol promises.
    case badResponse
    /// Reading or writing a local file failed.
    case io
    /// The work failed on purpose (a program's own failure, the `fail` operator).
    case failed
    case cancelled
    case `internal`

    /// A stable short name, e.g. `timeout`, `http_status`, `sql`.
    public var code: String {
        switch self {
        case .timeout: "timeout"
        case .unavailable: "unavailable"
        case .httpStatus: "http_status"
        case .auth: "auth"
        case .sql: "sql"
        case .tls: "tls"
        case .config: "config"
        case .input: "input"
        case .badResponse: "bad_response"
        case .io: "io"
        case .failed: "failed"
        case .cancelled: "cancelled"
        case .internal: "internal"
        }
    }
}

/// What a driver (libpq, SQLite, HTTP) reports: the category, a message that never holds a secret,
/// and whether trying again unchanged may pass.
public struct DriverError: Error, Sendable, Hashable, CustomStringConvertible {
    public var category: FailureCategory
    public var message: String
    public var retryable: Bool

    public init(_ category: FailureCategory, _ message: String, retryable: Bool) {
        self.category = category
        self.message = message
        self.retryable = retryable
    }

    public var code: String { category.code }
    public var httpStatus: Int? { if case .httpStatus(let s) = category { return s }; return nil }
    public var sqlstate: String? { if case .sql(let s) = category { return s }; return nil }

    public var description: String {
        var detail = category.code
        if let httpStatus { detail += " \(httpStatus)" }
        if let sqlstate { detail += " SQLSTATE \(sqlstate)" }
        return "\(message) [\(detail), \(retryable ? "retryable" : "not retryable")]"
    }

    static func config(_ message: String) -> DriverError { DriverError(.config, message, retryable: false) }
}
