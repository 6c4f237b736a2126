import Foundation
import LockstepTestSupport
import Testing

/// `lockstep migrate` as separate processes, the way an upgrade or a fleet starting at once runs it.
@Suite struct MigrateCommandTests {
    @Test func tenMigrateProcessesStartedAtOnceAgainstAnEmptyPostgresAllSucceed() async throws {
        let cluster = try await PostgresCluster.shared()
        for round in 0..<3 {
            let database = try CLIDatabases.fresh(cluster, "cli_race")
            let results = try CLI.runTogether(10, ["migrate", "--state", cluster.uri(database: database)])
            for result in results { #expect(result.status == 0, "round \(round): \(result.stderr)") }
            // One process applied the migrations; the others waited for it and found nothing to do.
            #expect(results.filter { $0.stdout.contains("applied 2  task logs") }.count == 1, "\(results.map(\.stdout))")
            #expect(results.filter { $0.stdout.contains("already up to date") }.count == 9)
            #expect(try cluster.psql("SELECT count(*) FROM lockstep_schema_migrations", database: database) == "5")
        }
    }

    @Test func tenMigrateProcessesStartedAtOnceAgainstAnEmptySQLiteFileAllSucceed() throws {
        let dir = try TestPaths.temporaryDirectory("lockstep-cli-migrate")
        defer { try? FileManager.default.removeItem(at: dir) }
        for round in 0..<3 {
            let data = dir.appendingPathComponent("data-\(round)").path
            let results = try CLI.runTogether(10, ["migrate", "--data-dir", data])
            for result in results { #expect(result.status == 0, "round \(round): \(result.stderr)") }
            #expect(results.filter { $0.stdout.contains("applied 2  task logs") }.count == 1, "\(results.map(\.stdout))")
        }
    }

    @Test func dryRunListsWhatAnOldDatabaseNeedsAndMigrateAdoptsIt() async throws {
        let cluster = try await PostgresCluster.shared()
        let database = try CLIDatabases.fresh(cluster, "cli_legacy")
        // The tables the release before versioned migrations created (its migration-1 SQL, verbatim).
        for statement in CLIDatabases.previousReleaseSchema { try cluster.psql(statement, database: database) }
        let state = ["--state", cluster.uri(database: database)]

        let dry = try CLI.run(["migrate", "--dry-run"] + state)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("schema version 1 (made before versioned migrations"), "\(dry.stdout)")
        #expect(dry.stdout.contains("pending:\n  2  task logs"), "\(dry.stdout)")
        #expect(!dry.stdout.contains(PostgresCluster.password))
        #expect(try cluster.psql("SELECT to_regclass('lockstep_schema_migrations') IS NULL", database: database) == "t")

        let migrated = try CLI.run(["migrate"] + state)
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.contains("adopted 1  initial schema") && migrated.stdout.contains("applied 2  task logs"), "\(migrated.stdout)")
        let again = try CLI.run(["migrate", "--dry-run"] + state)
        #expect(again.stdout.contains("nothing to migrate"), "\(again.stdout)")
    }

    @Test func aNewerSchemaStopsMigrateAndAComponentWithOneLineSayingWhatToDo() async throws {
        let cluster = try await PostgresCluster.shared()
        let database = try CLIDatabases.fresh(cluster, "cli_newer")
        let state = ["--state", cluster.uri(database: database)]
        #expect(try CLI.run(["migrate"] + state).status == 0)
        try cluster.psql("INSERT INTO lockstep_schema_migrations VALUES (999, 'from the future', '2030-01-01T00:00:00Z')", database: database)

        let dir = try TestPaths.temporaryDirectory("lockstep-cli-newer")
        defer { try? FileManager.default.removeItem(at: dir) }
        for command in [["migrate"], ["migrate", "--dry-run"], ["scheduler", "--data-dir", dir.path]] {
            let refused = try CLI.run(command + state)
            #expect(refused.status != 0, "\(command): \(refused.stdout)")
            let lines = refused.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(command): \(refused.stderr)")
            #expect(refused.stderr.contains("schema version 999") && refused.stderr.contains("supports up to version "), "\(refused.stderr)")
            #expect(refused.stderr.contains("upgrade Lockstep"))
            #expect(!refused.stderr.contains(PostgresCluster.password))
        }
    }
}

enum CLIDatabases {
    /// A fresh, empty database on `cluster`.
    static func fresh(_ cluster: PostgresCluster, _ prefix: String) throws -> String {
        let name = "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
        try cluster.psql("CREATE DATABASE \(name)")
        return name
    }

    /// What `StateStore` created on every start before versioned migrations, verbatim.
    static let previousReleaseSchema = [
        "CREATE TABLE IF NOT EXISTS lockstep_runs (run_id TEXT PRIMARY KEY, dag_id TEXT NOT NULL, state TEXT NOT NULL, sequence BIGINT NOT NULL, body TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS lockstep_runs_dag ON lockstep_runs (dag_id, sequence)",
        "CREATE TABLE IF NOT EXISTS lockstep_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS lockstep_timers (timer_id TEXT PRIMARY KEY, body TEXT NOT NULL, fire_at_ms BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS lockstep_outbox (id BIGSERIAL PRIMARY KEY, topic TEXT NOT NULL, record_key TEXT NOT NULL, event TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS lockstep_attempts (attempt_id TEXT PRIMARY KEY, event TEXT NOT NULL, recorded_at_ms BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS lockstep_claims (attempt_id TEXT PRIMARY KEY, worker TEXT NOT NULL, heartbeat_ms BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS lockstep_ticks (dag_id TEXT PRIMARY KEY, logical_date TEXT NOT NULL)",
    ]
}

extension CLI {
    /// Starts `count` `lockstep` processes with the same arguments, all before waiting for any.
    static func runTogether(_ count: Int, _ arguments: [String]) throws -> [Output] {
        let started = try (0..<count).map { _ -> (Process, Pipe, Pipe) in
            let process = Process()
            process.executableURL = TestPaths.lockstepExecutable
            process.arguments = arguments
            process.currentDirectoryURL = TestPaths.packageRoot
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            return (process, out, err)
        }
        return started.map { process, out, err in
            let stdout = out.fileHandleForReading.readDataToEndOfFile()
            let stderr = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                          stderr: String(decoding: stderr, as: UTF8.self))
        }
    }
}
