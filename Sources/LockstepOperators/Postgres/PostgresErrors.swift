import Foundation

/// Maps libpq failures to `OperatorError`s: SQLSTATE classes for statements, message patterns for
/// connection failures (libpq exposes no SQLSTATE before a session exists).
enum PostgresErrors {
    static func statementFailure(_ message: String, sqlstate: String?, display: String) -> OperatorError {
        let text = "\(display): \(message.trimmingCharacters(in: .whitespacesAndNewlines))"
        guard let sqlstate else {
            // No result at all: the connection broke mid-statement.
            return OperatorError(.unavailable, text, retryable: true)
        }
        switch sqlstate {
        case "57014":
            return OperatorError(.timeout, "\(text) (statement timeout or cancel)", retryable: true)
        case "28000", "28P01":
            return OperatorError(.auth, text, retryable: false)
        case "42501":
            return OperatorError(.auth, "\(text) (grant the connection's user SELECT on it)", retryable: false)
        default:
            let retryableClasses: Set<String> = ["08", "40", "53", "57", "58"]
            return OperatorError(.sql(sqlstate: sqlstate), text, retryable: retryableClasses.contains(String(sqlstate.prefix(2))))
        }
    }

    static func connectionFailure(_ raw: String, display: String, name: String) -> OperatorError {
        let message = raw.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " ")
        let text = "cannot connect to `\(name)` (\(display)): \(message)"
        let lower = message.lowercased()
        if lower.contains("authentication failed") || lower.contains("no password supplied")
            || lower.contains("pg_hba.conf") || lower.contains("password authentication") {
            return OperatorError(.auth, "\(text); check the connection's user and password", retryable: false)
        }
        if lower.contains("database") && lower.contains("does not exist") {
            return OperatorError(.sql(sqlstate: "3D000"), "\(text); check the database name in the URI", retryable: false)
        }
        if lower.contains("timeout expired") {
            return OperatorError(.timeout, "cannot connect to `\(name)` (\(display)): the URI's connect_timeout expired", retryable: true)
        }
        if lower.contains("ssl") {
            return OperatorError(.tls, "\(text); check sslmode and the server's TLS setup", retryable: false)
        }
        if lower.contains("invalid") && (lower.contains("option") || lower.contains("value")) {
            return OperatorError(.config, text, retryable: false)
        }
        if lower.contains("starting up") || lower.contains("shutting down") || lower.contains("too many") {
            return OperatorError(.unavailable, text, retryable: true)
        }
        return OperatorError(.unavailable, "\(text); is the server running and reachable?", retryable: true)
    }
}
