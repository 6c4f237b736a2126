import Foundation
import Logging

/// Whether the state store can reach its database right now (what `/api/v1/health` reports).
public enum StoreHealth: Sendable, Hashable, CustomStringConvertible {
    case connected
    /// The connection broke at `since`; the store is trying again. `lastError` never holds a password.
    case reconnecting(since: Date, lastError: String)

    public var isConnected: Bool { self == .connected }

    public var description: String {
        switch self {
        case .connected: "connected"
        case .reconnecting(let since, let lastError): "reconnecting since \(ISO8601DateFormatter().string(from: since)): \(lastError)"
        }
    }
}

/// The store's health, written by the thread that talks to the database and read by anyone, so a
/// health check never waits behind a reconnect in progress. Logs once per change of state (lost,
/// restored), never once per try: an outage of a minute is two log lines, not hundreds.
final class StoreHealthMonitor: @unchecked Sendable {
    // @unchecked: `state` and `failedTries` are only touched with `lock` held.
    private let lock = NSLock()
    private var state = StoreHealth.connected
    private var failedTries = 0
    private var restorations = 0
    private let logger: Logger
    private let store: String

    /// `store` names the database as messages show it (no password).
    init(store: String, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    var health: StoreHealth {
        lock.lock()
        defer { lock.unlock() }
        return state
    }

    /// How many times the connection has been re-established: a session-scoped thing on the server
    /// (an advisory lock, such as the coordinator lease) may have ended whenever this changed.
    var connectionEpoch: Int {
        lock.lock()
        defer { lock.unlock() }
        return restorations
    }

    /// The connection failed (first failure of an outage, or another failed try during one).
    func failed(_ error: any Error) {
        let message = "\(error)"
        lock.lock()
        let wasConnected = state == .connected
        let since: Date
        if case .reconnecting(let started, _) = state { since = started } else { since = Date() }
        state = .reconnecting(since: since, lastError: message)
        failedTries += 1
        lock.unlock()
        if wasConnected {
            logger.warning("state store connection lost; reconnecting", metadata: ["store": .string(store), "error": .string(message)])
        }
    }

    /// A connection works again.
    func restored() {
        lock.lock()
        guard case .reconnecting(let since, _) = state else {
            lock.unlock()
            return
        }
        let tries = failedTries
        state = .connected
        failedTries = 0
        restorations += 1
        lock.unlock()
        let outage = String(format: "%.1fs", Date().timeIntervalSince(since))
        logger.notice("state store connection restored", metadata: [
            "store": .string(store), "outage": .string(outage), "failed_tries": .stringConvertible(tries),
        ])
    }
}
