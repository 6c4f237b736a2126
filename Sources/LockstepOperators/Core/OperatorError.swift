import LockstepCore
import LockstepDrivers

/// Why an attempt failed, whether trying again can help, and never a secret.
public struct OperatorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; what a retry policy, an alert or a dashboard groups by.
    public typealias Category = FailureCategory

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
    public var code: String { category.code }

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

    public static func config(_ message: String) -> OperatorError { OperatorError(.config, message, retryable: false) }
    public static func input(_ message: String) -> OperatorError { OperatorError(.input, message, retryable: false) }
}
