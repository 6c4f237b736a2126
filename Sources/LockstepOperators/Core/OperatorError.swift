import LockstepCore

/// Why an attempt failed, whether trying again can help, and never a secret.
public struct OperatorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; what a retry policy, an alert or a dashboard groups by.
    public enum Category: Sendable, Hashable {
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
        /// The task's params, variables or connections are wrong: fix the config, a retry will not help.
        case config
        /// An upstream task's output lacks what this task needs.
        case input
        /// The server answered with something that is not what the protocol promises.
        case badResponse
        /// Reading or writing a local file failed.
        case io
        /// The task failed on purpose (the `fail` operator).
        case failed
        case cancelled
        case `internal`
    }

    public var category: Category
    public var message: String
    /// A hint for the retry policy: true when a later attempt may succeed unchanged.
    public var retryable: Bool
    /// Events to publish even though the attempt failed (e.g. the unhealthy health results).
    public var events: [EmittedEvent] = []

    public init(_ category: Category, _ message: String, retryable: Bool) {
        self.category = category
        self.message = message
        self.retryable = retryable
    }

    /// The same error, also carrying events to publish.
    public func publishing(_ events: [EmittedEvent]) -> OperatorError {
        var copy = self
        copy.events = events
        return copy
    }

    /// A stable short name for the category, e.g. `timeout`, `http_status`, `sql`.
    public var code: String {
        switch category {
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

    public var httpStatus: Int? { if case .httpStatus(let s) = category { return s }; return nil }
    public var sqlstate: String? { if case .sql(let s) = category { return s }; return nil }

    public var description: String {
        var detail = code
        if let httpStatus { detail += " \(httpStatus)" }
        if let sqlstate { detail += " SQLSTATE \(sqlstate)" }
        return "\(message) [\(detail), \(retryable ? "retryable" : "not retryable")]"
    }

    /// The error as recorded in a task-failed event or printed by `lockstep tasks test`.
    public var json: JSONValue {
        var o: [String: JSONValue] = ["category": .string(code), "message": .string(message), "retryable": .bool(retryable)]
        if let httpStatus { o["http_status"] = .int(Int64(httpStatus)) }
        if let sqlstate { o["sqlstate"] = .string(sqlstate) }
        return .object(o)
    }

    static func config(_ message: String) -> OperatorError { OperatorError(.config, message, retryable: false) }
    static func input(_ message: String) -> OperatorError { OperatorError(.input, message, retryable: false) }
}
