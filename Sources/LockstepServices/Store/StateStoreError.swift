import Foundation

/// What the state store itself reports (the databases' own failures arrive as `DriverError` or
/// `SQLiteError`). Messages name the store as `StoreLocation.description` does: never a password.
public enum StateStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The database stayed unreachable for the whole reconnect budget. Nothing of the operation was
    /// stored. Retryable: the next operation tries to reconnect again.
    case unavailable(store: String, since: Date, lastError: String)
    /// The connection broke while COMMIT was on its way and the server could not say afterwards
    /// whether the transaction committed. Retryable, but the caller must not assume either outcome:
    /// it reloads what it needs from the store before going on.
    case commitOutcomeUnknown(store: String, transaction: String, detail: String)
    /// The connection was re-established since the coordinator loaded the engine state, so its lease
    /// (a session lock on the same server, which a restart ends) may be gone and another coordinator
    /// may be active. Nothing was written. Retryable once the lease is held again and the state reloaded.
    case leaseMayBeLost(store: String)
    /// The database's schema is newer than this release knows: an upgraded Lockstep migrated it.
    case schemaTooNew(store: String, found: Int, supported: Int)
    /// A step of a migration failed; the migration's transaction was rolled back.
    case migrationFailed(store: String, version: Int, name: String, error: String)

    /// True when trying the same thing again later, unchanged, may succeed.
    public var isRetryable: Bool {
        switch self {
        case .unavailable, .commitOutcomeUnknown, .leaseMayBeLost: true
        case .schemaTooNew, .migrationFailed: false
        }
    }

    public var description: String {
        switch self {
        case .unavailable(let store, let since, let lastError):
            "state store \(store) unreachable since \(ISO8601DateFormatter().string(from: since)): \(lastError). "
                + "Nothing was stored; try again once the database is back"
        case .commitOutcomeUnknown(let store, let transaction, let detail):
            "state store \(store): the connection broke during COMMIT of transaction \(transaction) and its outcome is unknown "
                + "(\(detail)). Reload state from the store before going on"
        case .leaseMayBeLost(let store):
            "state store \(store): the connection was re-established since this coordinator loaded its state, so its lease may have "
                + "ended with the old session and another coordinator may be active. Nothing was written; re-acquire the lease and "
                + "reload the state (loadEngine) before committing again"
        case .schemaTooNew(let store, let found, let supported):
            "state store \(store) has schema version \(found), but this Lockstep supports up to version \(supported). "
                + "Fix: upgrade Lockstep (every component and the CLI) to a release that knows schema version \(found)"
        case .migrationFailed(let store, let version, let name, let error):
            "state store \(store): migration \(version) (\(name)) failed and was rolled back: \(error). "
                + "Fix the cause and run `lockstep migrate` again"
        }
    }
}
