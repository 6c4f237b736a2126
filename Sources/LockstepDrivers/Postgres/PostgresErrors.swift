import Foundation

/// Maps libpq failures to `DriverError`s: SQLSTATE classes for statements, message patterns for
/// connection failures (libpq exposes no SQLSTATE before a session exists).
enum PostgresErrors {
    static func statementFailure(_ message: String, sqlstate: String?, display: String) -> DriverError {
        let text = "\(display): \(message.trimmingCharacters(in: .whitespacesAndNewlines))"
        guard let sqlstate else {
            // No result at all: the connection broke mid-statement.
            return DriverError(.unavailable, text, retryable: true)
        }
        switch sqlstate {
        case "57014":
            return DriverError(.timeout, "\(text) (statement timeout or cancel)", retryable: true)
        case "28000", "28P01":
            return DriverError(.auth, text, retryable: false)
        case "42501":
            return DriverError(.auth, "\(text) (grant the connection's user SELECT on it)", retryable: false)
        default:
            let retryableClasses: Set<String> = ["08", "40", "53", "57", "58"]
            return DriverError(.sql(sqlstate: sqlstate), text, retryable: retryableClasses.contains(String(sqlstate.prefix(2))))
        }
    }

    static func connectionFailure(_ raw: String, display: String, name: String) -> DriverError {
        let message = raw.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " ")
        let text = "cannot connect to `\(name)` (\(display)): \(message)"
        let lower = message.lowercased()
        if lower.contains("authentication failed") || lower.contains("no password supplied")
            || lower.contains("pg_hba.conf") || lower.contains("password authentication") {
            return DriverError(.auth, "\(text); check the connection's user and password", retryable: false)
        }
        if lower.contains("database") && lower.contains("does not exist") {
            return DriverError(.sql(sqlstate: "3D000"), "\(text); check the database name in the URI", retryable: false)
        }
        if lower.contains("timeout expired") {
            return DriverError(.timeout, "cannot connect to `\(name)` (\(display)): the URI's connect_timeout expired", retryable: true)
        }
        if lower.contains("ssl") {
            return DriverError(.tls, "\(text); check sslmode and the server's TLS setup", retryable: false)
        }
        if lower.contains("invalid") && (lower.contains("option") || lower.contains("value")) {
            return DriverError(.config, text, retryable: false)
        }
        if lower.contains("starting up") || lower.contains("shutting down") || lower.contains("too many") {
            return DriverError(.unavailable, text, retryable: true)
        }
        return DriverError(.unavailable, "\(text); is the server running and reachable?", retryable: true)
    }
}
