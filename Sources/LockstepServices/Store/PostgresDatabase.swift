import Foundation
import LockstepCore
import LockstepDrivers
import Logging

/// `SQLDatabase` on one libpq connection (blocking; used from the store's own thread) that rides out
/// a lost connection: a server restart, a failover, a dropped TCP path.
///
/// This is the layer that retries, because it is the only one that knows what reached the server:
/// - It notices the break (libpq's `CONNECTION_BAD`, a statement with no result, SQLSTATE class 08 or
///   57P01–57P03), closes the connection and reconnects with capped exponential backoff
///   (`ReconnectPolicy`: immediately, then 100 ms doubling to 5 s, for at most 30 s per operation).
/// - A statement outside `transaction` is sent again on the new connection. That is safe because the
///   `SQLDatabase` contract allows only reads and idempotent writes there (see `SQLDatabase.query`).
/// - A `transaction` that broke before COMMIT was sent died with its session (the server rolls back
///   what an ended session left open), so its body is run again from the start on the new connection.
/// - A transaction whose COMMIT was sent but not acknowledged may or may not have committed. Before
///   COMMIT the transaction's id (`txid_current()`) is read; after reconnecting, `txid_status` says
///   what became of it: `committed` — the body's result is returned as if nothing happened;
///   `aborted` — the body is run again; still `in progress` past the budget, or unknown — the caller
///   gets `StateStoreError.commitOutcomeUnknown` (retryable), never a guess. A transaction therefore
///   takes effect once even when it is not idempotent (the outbox insert, the coordinator's fence).
/// - When the database stays away longer than the budget, the caller gets
///   `StateStoreError.unavailable` (retryable); nothing of that operation was stored.
/// Callers above (`StateStore`, the components) see either success or one of those two errors.
package final class PostgresDatabase: SQLDatabase {
    package let dialect = SQLDialect.postgres
    private let uri: String
    private let name: String
    private let policy: ReconnectPolicy
    let health: StoreHealthMonitor
    /// nil while broken (after a failure, until a reconnect succeeds).
    private var connection: PostgresConnection?
    private var closed = false
    /// True while a `transaction` body runs: a statement that loses the connection then fails at once,
    /// since its transaction died with the session and only `transaction` can start it again.
    private var inTransaction = false
    /// Failures since the connection last worked: the backoff grows with them.
    private var outageFailures = 0

    /// Connects now, failing at once if the database is unreachable: a component started against a
    /// wrong or absent database should say so, not wait.
    init(uri: String, name: String = "state store", policy: ReconnectPolicy = .standard, health: StoreHealthMonitor? = nil) throws {
        self.uri = uri
        self.name = name
        self.policy = policy
        self.health = health ?? StoreHealthMonitor(store: Redacted.uri(uri), logger: Logger(label: "lockstep.state"))
        connection = try Self.connect(uri, name: name, timeout: .seconds(10))
    }

    private static func connect(_ uri: String, name: String, timeout: Duration) throws(DriverError) -> PostgresConnection {
        let connection = try PostgresConnection(uri: uri, name: name, connectTimeout: timeout)
        // Migration 1's `CREATE … IF NOT EXISTS` would otherwise print a notice per existing table.
        try connection.query("SET client_min_messages TO warning")
        return connection
    }

    @discardableResult
    package func query(_ sql: String, _ parameters: [SQLValue]) throws -> [[String?]] {
        let values = parameters.map { $0.text ?? "" }
        if inTransaction { return try current().query(sql, values) }
        var deadline: ContinuousClock.Instant?
        return try withReconnect(&deadline) { try $0.query(sql, values) }
    }

    package func execute(_ sql: String) throws { try query(sql, []) }

    package func transaction<T>(_ body: () throws -> T) throws -> T {
        precondition(!inTransaction, "PostgresDatabase.transaction does not nest")
        var deadline: ContinuousClock.Instant?
        while true {
            let connection = try live(&deadline)
            if case .done(let result) = try attempt(body, on: connection, &deadline) {
                outageFailures = 0
                return result
            }
        }
    }

    package func close() {
        closed = true
        connection?.close()
        connection = nil
    }

    // MARK: Reconnecting

    private enum Outcome<T> { case done(T), runAgain }

    /// One run of a transaction on `connection`.
    private func attempt<T>(_ body: () throws -> T, on connection: PostgresConnection, _ deadline: inout ContinuousClock.Instant?) throws -> Outcome<T> {
        let result: T
        let xid: String
        do {
            inTransaction = true
            defer { inTransaction = false }
            try connection.query("BEGIN")
            result = try body()
            guard let id = try connection.query("SELECT txid_current()").first?.first ?? nil else {
                throw DriverError(.badResponse, "\(connection.display): txid_current() returned nothing", retryable: false)
            }
            xid = id
        } catch {
            if isConnectionLoss(error, on: connection) {
                lose(error)
                return .runAgain
            }
            _ = try? connection.query("ROLLBACK")
            throw error
        }
        do {
            try connection.query("COMMIT")
            return .done(result)
        } catch {
            guard isConnectionLoss(error, on: connection) else {
                _ = try? connection.query("ROLLBACK")
                throw error
            }
            lose(error)
            return try committed(xid, &deadline) ? .done(result) : .runAgain
        }
    }

    /// Whether transaction `xid`, whose COMMIT acknowledgement was lost, committed; asked on a new connection.
    private func committed(_ xid: String, _ deadline: inout ContinuousClock.Instant?) throws -> Bool {
        var asked = 0
        while true {
            let status = try withReconnect(&deadline) { try $0.query("SELECT txid_status($1)", [xid]) }.first?.first ?? nil
            asked += 1
            switch status {
            case "committed": return true
            case "aborted": return false
            case "in progress":
                // The old session's backend has not finished the COMMIT yet (a broken path, not a restart).
                let end = deadline ?? (ContinuousClock.now + policy.budget)
                deadline = end
                guard ContinuousClock.now < end else {
                    throw StateStoreError.commitOutcomeUnknown(store: Redacted.uri(uri), transaction: xid, detail: "still in progress after the reconnect budget")
                }
                try pause(policy.jitteredDelay(afterFailures: asked), until: end)
            default:
                throw StateStoreError.commitOutcomeUnknown(
                    store: Redacted.uri(uri), transaction: xid, detail: "the server no longer knows the transaction (txid_status is \(status ?? "NULL"))")
            }
        }
    }

    /// Runs `operation`, reconnecting and running it again while it fails because the connection broke.
    private func withReconnect<T>(_ deadline: inout ContinuousClock.Instant?, _ operation: (PostgresConnection) throws -> T) throws -> T {
        while true {
            let connection = try live(&deadline)
            do {
                let value = try operation(connection)
                outageFailures = 0
                return value
            } catch {
                guard isConnectionLoss(error, on: connection) else { throw error }
                lose(error)
            }
        }
    }

    /// The connection, reconnecting first if it broke. `deadline` is set when this operation first
    /// finds the connection broken and bounds every try the operation makes.
    private func live(_ deadline: inout ContinuousClock.Instant?) throws -> PostgresConnection {
        guard !closed else { throw DriverError(.unavailable, "the state store \(Redacted.uri(uri)) is closed", retryable: false) }
        if let connection, !connection.isBroken { return connection }
        if connection != nil { lose(DriverError(.unavailable, "\(Redacted.uri(uri)): the connection broke", retryable: true)) }
        let end = deadline ?? (ContinuousClock.now + policy.budget)
        // An operation's first try is immediate (the database may be back already); later ones back off.
        var backOff = deadline != nil
        deadline = end
        while true {
            if backOff {
                try pause(policy.jitteredDelay(afterFailures: max(outageFailures - 1, 1)), until: end)
                guard ContinuousClock.now < end else { throw unavailable() }
            }
            backOff = true
            do {
                let left = end - ContinuousClock.now
                let fresh = try Self.connect(uri, name: name, timeout: min(.seconds(10), max(left, .seconds(1))))
                connection = fresh
                health.restored()
                return fresh
            } catch {
                outageFailures += 1
                health.failed(error)
                // A refused password or a missing database will not fix itself: say so now.
                guard error.retryable else { throw error }
            }
        }
    }

    private func current() throws -> PostgresConnection {
        guard let connection else { throw DriverError(.unavailable, "\(Redacted.uri(uri)): the connection broke", retryable: true) }
        return connection
    }

    private func lose(_ error: any Error) {
        connection?.close()
        connection = nil
        outageFailures += 1
        health.failed(error)
    }

    private func isConnectionLoss(_ error: any Error, on connection: PostgresConnection) -> Bool {
        if connection.isBroken { return true }
        guard let error = error as? DriverError else { return false }
        // A statement with no result at all: the connection broke under it.
        if error.category == .unavailable { return true }
        guard let sqlstate = error.sqlstate else { return false }
        // 08: connection exception; 57P01–57P03: the server is shutting down, crashed or starting up.
        return sqlstate.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlstate)
    }

    private func unavailable() -> StateStoreError {
        var since = Date()
        var lastError = "the connection broke"
        if case .reconnecting(let start, let error) = health.health {
            since = start
            lastError = error
        }
        return .unavailable(store: Redacted.uri(uri), since: since, lastError: lastError)
    }

    /// Sleeps for `delay` (not past `end`) on the store's own thread, waking early if the calling task
    /// is cancelled (a graceful shutdown should not wait out a reconnect).
    private func pause(_ delay: Duration, until end: ContinuousClock.Instant) throws {
        let wake = min(ContinuousClock.now + delay, end)
        while ContinuousClock.now < wake {
            if Task.isCancelled { throw CancellationError() }
            let slice = min(wake - ContinuousClock.now, .milliseconds(50))
            usleep(UInt32(max(slice.milliseconds, 1) * 1000))
        }
    }
}
