import Foundation
import LockstepCore
@testable import LockstepServices
import LockstepTestSupport
import Testing

/// The state store's versioned schema: applied once under a lock however many processes start at
/// once, an old (pre-migration) database adopted as it is, a newer one refused.
@Suite struct MigrationTests {
    // MARK: PostgreSQL

    @Test func tenStoresOpenedAtOnceAgainstAnEmptyPostgresAllComeUp() async throws {
        let cluster = try await PostgresCluster.shared()
        for round in 0..<5 {
            let database = try freshDatabase(cluster, "race")
            let location = StoreLocation.postgres(uri: cluster.uri(database: database))
            let stores = try await openTogether(10, location)
            for store in stores { await store.close() }
            let recorded = try cluster.psql("SELECT version || ':' || name FROM lockstep_schema_migrations ORDER BY version", database: database)
            #expect(recorded == "1:initial schema\n2:task logs\n3:component heartbeats\n4:API users and sessions\n5:run list indexes", "round \(round): \(recorded)")
        }
    }

    /// The same race with the starting gun made exact: ten connections are open first, then all ten
    /// migrate on ten threads released at one instant (what made `CREATE TABLE IF NOT EXISTS` fail
    /// with `pg_type_typname_nsp_index`).
    @Test func tenMigratorsReleasedAtOneInstantApplyEachMigrationOnce() async throws {
        let cluster = try await PostgresCluster.shared()
        for _ in 0..<5 {
            let database = try freshDatabase(cluster, "gun")
            let uri = cluster.uri(database: database)
            let databases = try (0..<10).map { _ in Unshared(try PostgresDatabase(uri: uri)) }
            let failures = startingGun(databases.count) { i in
                try SchemaMigrator(db: databases[i].value, store: "test").migrate()
            }
            databases.forEach { $0.value.close() }
            #expect(failures.isEmpty, "\(failures)")
            #expect(try cluster.psql("SELECT count(*) FROM lockstep_schema_migrations", database: database) == "\(Migrations.all.count)")
        }
    }

    @Test func aPostgresDatabaseMadeByThePreviousReleaseIsAdoptedAndItsRunIsStillListed() async throws {
        let cluster = try await PostgresCluster.shared()
        let database = try freshDatabase(cluster, "legacy")
        for statement in PreviousRelease.schema(serial: "BIGSERIAL PRIMARY KEY") { try cluster.psql(statement, database: database) }
        try cluster.psql(PreviousRelease.insertRun, database: database)
        let columnsBefore = try cluster.psql(Self.columnsQuery, database: database)

        let location = StoreLocation.postgres(uri: cluster.uri(database: database))
        let before = try await StoreSchema.status(of: location)
        #expect(before.version == 1 && before.unrecorded && before.applied.isEmpty)
        #expect(before.pending.map(\.version) == [2, 3, 4, 5])

        let store = try await StateStore(location)
        let runs = try await store.runs()
        await store.close()
        #expect(runs.map(\.id) == [PreviousRelease.runID])
        #expect(runs.first?.state == .succeeded && runs.first?.dagID == "legacy_dag")
        // Adopted without change: every table the old release made is column for column as it was.
        #expect(try cluster.psql(Self.columnsQuery, database: database) == columnsBefore)
        let recorded = try cluster.psql("SELECT version || ':' || name FROM lockstep_schema_migrations ORDER BY version", database: database)
        #expect(recorded == "1:initial schema\n2:task logs\n3:component heartbeats\n4:API users and sessions\n5:run list indexes")
    }

    @Test func aPostgresSchemaNewerThanThisReleaseIsRefusedSayingWhichVersionsAndWhatToDo() async throws {
        let cluster = try await PostgresCluster.shared()
        let database = try freshDatabase(cluster, "newer")
        let location = StoreLocation.postgres(uri: cluster.uri(database: database))
        await (try StateStore(location)).close()
        try cluster.psql("INSERT INTO lockstep_schema_migrations (version, name, applied_at) VALUES (999, 'from the future', '2030-01-01T00:00:00Z')", database: database)

        let error = await #expect(throws: StateStoreError.self) { try await StateStore(location) }
        #expect(error == .schemaTooNew(store: location.description, found: 999, supported: StoreSchema.supportedVersion))
        let message = "\(error.map { "\($0)" } ?? "")"
        #expect(!message.contains("\n"))
        #expect(message.contains("schema version 999") && message.contains("supports up to version \(StoreSchema.supportedVersion)"))
        #expect(message.contains("upgrade Lockstep"))
        #expect(!message.contains(PostgresCluster.password))
        // Refused before touching anything: the record is as the newer release left it.
        #expect(try cluster.psql("SELECT count(*) FROM lockstep_schema_migrations", database: database) == "\(Migrations.all.count + 1)")
    }

    // MARK: SQLite

    @Test func tenStoresOpenedAtOnceAgainstAnEmptySQLiteFileAllComeUp() async throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-migrate-race")
        defer { try? FileManager.default.removeItem(at: dir) }
        for round in 0..<5 {
            let path = dir.appendingPathComponent("state-\(round).sqlite").path
            let stores = try await openTogether(10, .sqlite(path: path))
            for store in stores { await store.close() }
            let status = try await StoreSchema.status(of: .sqlite(path: path))
            #expect(status.applied.map(\.version) == [1, 2, 3, 4, 5], "round \(round)")
        }
    }

    @Test func aSQLiteFileMadeByThePreviousReleaseIsAdoptedAndItsRunIsStillListed() async throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-migrate-legacy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("state.sqlite").path
        let legacy = try SQLiteDatabase(path: path)
        for statement in PreviousRelease.schema(serial: "INTEGER PRIMARY KEY AUTOINCREMENT") { try legacy.execute(statement) }
        try legacy.execute(PreviousRelease.insertRun.replacingOccurrences(of: "$json$", with: "'"))
        let schemaBefore = try legacy.query("SELECT name, sql FROM sqlite_master ORDER BY name", [])
        legacy.close()

        let store = try await StateStore(.sqlite(path: path))
        let runs = try await store.runs()
        await store.close()
        #expect(runs.map(\.id) == [PreviousRelease.runID])

        let after = try SQLiteDatabase(path: path)
        defer { after.close() }
        let kept = try after.query("SELECT name, sql FROM sqlite_master ORDER BY name", []).filter { row in schemaBefore.contains { $0[0] == row[0] } }
        #expect(kept == schemaBefore)
        let recorded = try after.query("SELECT version, name FROM lockstep_schema_migrations ORDER BY version", [])
        #expect(recorded == [["1", "initial schema"], ["2", "task logs"], ["3", "component heartbeats"], ["4", "API users and sessions"], ["5", "run list indexes"]])
    }

    @Test func aSQLiteSchemaNewerThanThisReleaseIsRefused() async throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-migrate-newer")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("state.sqlite").path
        await (try StateStore(.sqlite(path: path))).close()
        let db = try SQLiteDatabase(path: path)
        try db.execute("INSERT INTO lockstep_schema_migrations (version, name, applied_at) VALUES (999, 'from the future', '2030-01-01T00:00:00Z')")
        db.close()

        let error = await #expect(throws: StateStoreError.self) { try await StateStore(.sqlite(path: path)) }
        #expect(error == .schemaTooNew(store: "sqlite:\(path)", found: 999, supported: StoreSchema.supportedVersion))
        let status = try await StoreSchema.status(of: .sqlite(path: path))
        #expect(status.isNewerThanSupported && status.pending.isEmpty)
    }

    @Test func statusOfAMissingSQLiteFileListsEveryMigrationAndCreatesNothing() async throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-migrate-missing")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("nothing-here.sqlite").path
        let status = try await StoreSchema.status(of: .sqlite(path: path))
        #expect(status.version == 0 && status.pending.map(\.version) == Migrations.all.map(\.version))
        #expect(!FileManager.default.fileExists(atPath: path))

        let migrated = try await StoreSchema.migrate(.sqlite(path: path))
        #expect(migrated.version == StoreSchema.supportedVersion && migrated.appliedNow.map(\.version) == [1, 2, 3, 4, 5])
        let again = try await StoreSchema.migrate(.sqlite(path: path))
        #expect(again.appliedNow.isEmpty && again.applied.map(\.version) == [1, 2, 3, 4, 5])
    }

    // MARK: Helpers

    /// Every column of every table the previous release made, in order.
    static let columnsQuery = """
        SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
        FROM information_schema.columns WHERE table_schema = 'public' AND table_name IN
          ('lockstep_runs', 'lockstep_meta', 'lockstep_timers', 'lockstep_outbox', 'lockstep_attempts', 'lockstep_claims', 'lockstep_ticks')
        ORDER BY table_name, ordinal_position
        """
}

/// What the release before versioned migrations did, copied here (not taken from `Migrations`) so a
/// change to migration 1 shows up as a failing adoption test.
enum PreviousRelease {
    /// `StateStore.migrate()` of that release, verbatim.
    static func schema(serial: String) -> [String] {
        [
            "CREATE TABLE IF NOT EXISTS lockstep_runs (run_id TEXT PRIMARY KEY, dag_id TEXT NOT NULL, state TEXT NOT NULL, sequence BIGINT NOT NULL, body TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS lockstep_runs_dag ON lockstep_runs (dag_id, sequence)",
            "CREATE TABLE IF NOT EXISTS lockstep_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS lockstep_timers (timer_id TEXT PRIMARY KEY, body TEXT NOT NULL, fire_at_ms BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS lockstep_outbox (id \(serial), topic TEXT NOT NULL, record_key TEXT NOT NULL, event TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS lockstep_attempts (attempt_id TEXT PRIMARY KEY, event TEXT NOT NULL, recorded_at_ms BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS lockstep_claims (attempt_id TEXT PRIMARY KEY, worker TEXT NOT NULL, heartbeat_ms BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS lockstep_ticks (dag_id TEXT PRIMARY KEY, logical_date TEXT NOT NULL)",
        ]
    }

    static let runID = "legacy_dag~before-migrations"

    /// A finished run as that release's `commit` wrote it: the run as sorted-keys JSON.
    static let insertRun = """
        INSERT INTO lockstep_runs (run_id, dag_id, state, sequence, body) VALUES ('\(runID)', 'legacy_dag', 'succeeded', 0, $json${"conf":{},"dagID":"legacy_dag","finishedAt":780000060,"id":"\(runID)","logicalDate":780000000,"requestedAt":780000000,"sequence":0,"startedAt":780000001,"state":"succeeded","tasks":{},"trigger":{"manual":{}}}$json$)
        """
}

/// A fresh, empty database on `cluster`.
func freshDatabase(_ cluster: PostgresCluster, _ prefix: String) throws -> String {
    let name = "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
    try cluster.psql("CREATE DATABASE \(name)")
    return name
}

/// Opens `count` stores on `location` at once.
func openTogether(_ count: Int, _ location: StoreLocation) async throws -> [StateStore] {
    try await withThrowingTaskGroup(of: StateStore.self) { group in
        for _ in 0..<count { group.addTask { try await StateStore(location) } }
        var stores: [StateStore] = []
        for try await store in group { stores.append(store) }
        return stores
    }
}

/// A non-Sendable value handed to exactly one thread. @unchecked: each is used by one thread at a
/// time (created on the test's, used by its own, closed after that thread ended).
struct Unshared<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Runs `body(i)` for every i on threads of their own, released at one instant once all are waiting;
/// returns the errors they threw.
func startingGun(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> [String] {
    let gate = StartingGate(count)
    let done = DispatchGroup()
    for i in 0..<count {
        done.enter()
        let thread = Thread {
            gate.arriveAndWait()
            do { try body(i) } catch { gate.record("thread \(i): \(error)") }
            done.leave()
        }
        thread.start()
    }
    done.wait()
    return gate.errors
}

/// @unchecked: every field is read and written with `condition` locked.
private final class StartingGate: @unchecked Sendable {
    private let condition = NSCondition()
    private let count: Int
    private var waiting = 0
    private var failures: [String] = []

    init(_ count: Int) { self.count = count }

    func arriveAndWait() {
        condition.lock()
        defer { condition.unlock() }
        waiting += 1
        if waiting == count { condition.broadcast() }
        while waiting < count { condition.wait() }
    }

    func record(_ failure: String) {
        condition.lock()
        defer { condition.unlock() }
        failures.append(failure)
    }

    var errors: [String] {
        condition.lock()
        defer { condition.unlock() }
        return failures
    }
}
