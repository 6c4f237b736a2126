import Foundation
import LockstepCore
import LockstepDrivers

/// Where a database's schema stands against the migrations this release knows.
public struct SchemaStatus: Sendable, Hashable {
    public struct Step: Sendable, Hashable {
        public var version: Int
        public var name: String
        /// When it was applied (ISO 8601); nil for a step not applied yet.
        public var appliedAt: String?
    }

    /// The store, as messages show it (no password).
    public var store: String
    /// 0 for an empty database.
    public var version: Int
    /// The newest version this release knows.
    public var supported: Int
    /// Steps recorded in `lockstep_schema_migrations`, oldest first.
    public var applied: [Step]
    /// Made by a release before versioned migrations: migration 1's tables without the record of it.
    /// `migrate` adopts it as version 1 without changing a table.
    public var unrecorded: Bool
    /// What `migrate` would apply, in order (empty when the schema is newer than supported).
    public var pending: [Step]
    /// What the call that returned this applied (always empty from `status`).
    public var appliedNow: [Step] = []
    /// The call that returned this recorded a pre-migration database as version 1 (`unrecorded` before).
    public var adoptedNow = false

    public var isNewerThanSupported: Bool { version > supported }
}

/// Brings a database's schema to the version this release knows, once, however many processes start
/// against it at the same instant: the whole check-and-apply runs in one transaction under a lock
/// (on PostgreSQL a transaction-scoped advisory lock, on SQLite the write lock `BEGIN IMMEDIATE`
/// takes), so the second process waits, then finds nothing left to do.
struct SchemaMigrator {
    let db: any SQLDatabase
    /// The store as messages show it.
    let store: String

    /// The advisory lock key of migrations on PostgreSQL. The coordinator lease holds 7283501 for
    /// as long as a coordinator is active, so migrations must not share it.
    static let lockKey: Int64 = 7283502
    static let table = "lockstep_schema_migrations"

    /// Reads where the schema stands, taking no lock and changing nothing.
    func status() throws -> SchemaStatus {
        let (applied, unrecorded) = try read()
        return makeStatus(applied: applied, unrecorded: unrecorded)
    }

    /// Applies what is pending; throws `StateStoreError.schemaTooNew` if the database is newer than
    /// this release. Cheap when the schema is current: one read, no lock.
    @discardableResult
    func migrate(now: Date = Date()) throws -> SchemaStatus {
        let current = try status()
        guard !current.isNewerThanSupported else { throw tooNew(current) }
        if current.pending.isEmpty && !current.unrecorded { return current }
        return try db.transaction {
            if db.dialect == .postgres {
                try db.query("SELECT pg_advisory_xact_lock($1)", .int(Self.lockKey))
                // Rare, and everything written later depends on it: durable when COMMIT returns even
                // where the server commits asynchronously by default.
                try db.execute("SET LOCAL synchronous_commit TO on")
            }
            // Read again under the lock: another process may have migrated while this one waited.
            let (applied, unrecorded) = try read()
            var status = makeStatus(applied: applied, unrecorded: unrecorded)
            guard !status.isNewerThanSupported else { throw tooNew(status) }
            let at = ISO8601.format(now)
            if applied.isEmpty {
                try db.execute("CREATE TABLE IF NOT EXISTS \(Self.table) (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            }
            var steps = status.pending
            if unrecorded { steps.insert(SchemaStatus.Step(version: 1, name: Migrations.initial.name), at: 0) }
            for step in steps {
                guard let migration = Migrations.all.first(where: { $0.version == step.version }) else { continue }
                try apply(migration, at: at)
                status.appliedNow.append(SchemaStatus.Step(version: migration.version, name: migration.name, appliedAt: at))
            }
            status.applied += status.appliedNow
            status.version = status.applied.map(\.version).max() ?? 0
            status.pending = []
            status.adoptedNow = unrecorded
            status.unrecorded = false
            return status
        }
    }

    private func apply(_ migration: Migration, at: String) throws {
        do {
            for statement in migration.statements(db.dialect) { try db.execute(statement) }
            try db.query(
                "INSERT INTO \(Self.table) (version, name, applied_at) VALUES ($1, $2, $3)",
                .int(Int64(migration.version)), .text(migration.name), .text(at))
        } catch let error as DriverError where error.retryable {
            // A lost connection: `PostgresDatabase.transaction` runs the whole migration again.
            throw error
        } catch {
            throw StateStoreError.migrationFailed(store: store, version: migration.version, name: migration.name, error: "\(error)")
        }
    }

    private func read() throws -> (applied: [SchemaStatus.Step], unrecorded: Bool) {
        guard try tableExists(Self.table) else { return ([], try tableExists("lockstep_runs")) }
        let rows = try db.query("SELECT version, name, applied_at FROM \(Self.table) ORDER BY version", [])
        let applied = rows.map { SchemaStatus.Step(version: Int($0[0] ?? "") ?? 0, name: $0[1] ?? "", appliedAt: $0[2]) }
        // A migrations table with no rows is one whose creator's transaction had nothing else in it:
        // treat it like no table at all.
        return (applied, applied.isEmpty ? try tableExists("lockstep_runs") : false)
    }

    private func tableExists(_ name: String) throws -> Bool {
        switch db.dialect {
        case .sqlite:
            return try !db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1", .text(name)).isEmpty
        case .postgres:
            // A scan of pg_tables under this statement's snapshot, in the schema `CREATE TABLE` uses. Not
            // `to_regclass`: it answers from the backend's catalog cache, which taking an advisory lock
            // does not refresh, so after waiting for another migrator it can miss the tables just made.
            return try !db.query(
                "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = $1", .text(name)).isEmpty
        }
    }

    private func makeStatus(applied: [SchemaStatus.Step], unrecorded: Bool) -> SchemaStatus {
        Self.status(store: store, applied: applied, unrecorded: unrecorded)
    }

    static func status(store: String, applied: [SchemaStatus.Step], unrecorded: Bool) -> SchemaStatus {
        let version = applied.map(\.version).max() ?? (unrecorded ? 1 : 0)
        let pending = version > Migrations.latest ? [] : Migrations.all.filter { $0.version > version }.map {
            SchemaStatus.Step(version: $0.version, name: $0.name)
        }
        return SchemaStatus(store: store, version: version, supported: Migrations.latest, applied: applied, unrecorded: unrecorded, pending: pending)
    }

    private func tooNew(_ status: SchemaStatus) -> StateStoreError {
        .schemaTooNew(store: store, found: status.version, supported: status.supported)
    }
}

/// The state store's schema for `lockstep migrate`: where it stands, and bringing it up to date.
public enum StoreSchema {
    /// The newest schema version this release knows.
    public static var supportedVersion: Int { Migrations.latest }

    /// Where the schema at `location` stands. Creates nothing: a SQLite file that does not exist yet
    /// reads as an empty database.
    public static func status(of location: StoreLocation) async throws -> SchemaStatus {
        try await BlockingThread.run(name: "lockstep-migrate") {
            if case .sqlite(let path) = location, !FileManager.default.fileExists(atPath: path) {
                return SchemaMigrator.status(store: location.description, applied: [], unrecorded: false)
            }
            let db = try open(location)
            defer { db.close() }
            return try SchemaMigrator(db: db, store: location.description).status()
        }
    }

    /// Applies the pending migrations at `location`; the result's `appliedNow` says which.
    public static func migrate(_ location: StoreLocation) async throws -> SchemaStatus {
        try await BlockingThread.run(name: "lockstep-migrate") {
            let db = try open(location)
            defer { db.close() }
            return try SchemaMigrator(db: db, store: location.description).migrate()
        }
    }

    static func open(_ location: StoreLocation, health: StoreHealthMonitor? = nil, policy: ReconnectPolicy = .standard) throws -> any SQLDatabase {
        switch location {
        case .sqlite(let path): try SQLiteDatabase(path: path)
        case .postgres(let uri): try PostgresDatabase(uri: uri, policy: policy, health: health)
        }
    }
}
