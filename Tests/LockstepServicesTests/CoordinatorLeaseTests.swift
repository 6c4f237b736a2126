import Foundation
@testable import LockstepServices
import LockstepTestKit
import LockstepTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One active coordinator: two holders of one store's lease, on SQLite (a `flock` beside the file) and
/// PostgreSQL (a session advisory lock). The second waits until the first lets go, by releasing it or
/// by dying; a holder in another process is killed with SIGKILL, so nothing of it runs to let go.
@Suite(.serialized) struct CoordinatorLeaseTests {
    // MARK: SQLite

    func sqliteLocation() throws -> (StoreLocation, lockFile: String) {
        let path = try TestPaths.temporaryDirectory("lockstep-lease").appendingPathComponent("state.sqlite").path
        return (.sqlite(path: path), path + ".coordinator.lock")
    }

    @Test func onSQLiteTheSecondHolderWaitsUntilTheFirstReleases() async throws {
        try await secondWaitsForRelease(try sqliteLocation().0)
    }

    @Test func onSQLiteTheSecondHolderTakesOverWhenTheFirstsProcessDies() async throws {
        let (location, lockFile) = try sqliteLocation()
        // Another process holds the same flock a coordinator takes.
        let script = "import fcntl, sys, time\nf = open(sys.argv[1], 'a')\nfcntl.flock(f, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(3600)"
        let holder = try ManagedProcess(name: "lease-holder", executable: "/usr/bin/env", arguments: ["python3", "-c", script, lockFile])
        defer { holder.stop() }
        try await poll("the other process to take the lease") {
            guard holder.isRunning else { throw TestFailure("the holder exited:\n\(holder.log)") }
            return holder.log.contains("held")
        }
        try await secondTakesOver(location) { holder.kill9() }
    }

    // MARK: PostgreSQL

    func postgresLocation() async throws -> (StoreLocation, PostgresCluster, database: String) {
        let cluster = try await PostgresCluster.shared()
        // A database of its own: advisory locks are per database, and no other test contends here.
        let database = "lease_\(UUID().uuidString.prefix(8).lowercased())"
        try cluster.psql("CREATE DATABASE \(database)")
        return (.postgres(uri: cluster.uri(database: database)), cluster, database)
    }

    @Test func onPostgreSQLTheSecondHolderWaitsUntilTheFirstReleases() async throws {
        try await secondWaitsForRelease(try await postgresLocation().0)
    }

    @Test func onPostgreSQLTheSecondHolderTakesOverWhenTheFirstsProcessDies() async throws {
        let (location, cluster, database) = try await postgresLocation()
        let holder = try PsqlSession(cluster: cluster, database: database)
        defer { holder.kill9() }
        holder.send("SELECT pg_advisory_lock(\(CoordinatorLease.advisoryLockKey));\n")
        try await poll("psql to take the advisory lock") {
            guard holder.isRunning else { throw TestFailure("psql exited:\n\(holder.output)") }
            return try cluster.psql("""
                SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                WHERE l.locktype = 'advisory' AND l.objid = \(CoordinatorLease.advisoryLockKey) AND l.granted AND d.datname = '\(database)'
                """) == "1"
        }
        // psql sits idle in its session: killed, its connection closes and the server ends the session.
        try await secondTakesOver(location) { holder.kill9() }
    }

    // MARK: The two cases, on either store

    func secondWaitsForRelease(_ location: StoreLocation) async throws {
        let firstWaited = Flag()
        let first = try await CoordinatorLease.acquire(location) { firstWaited.set() }
        #expect(!firstWaited.isSet, "nobody held the lease, yet the first holder waited")
        let second = Acquisition(location)
        try await poll("the second holder to find the lease taken") { second.waiting.isSet }
        // Contended, and the first still holds it: the second cannot have it.
        #expect(!second.acquired.isSet)
        first.release()
        try await poll("the second holder to get the lease once the first let go") { second.acquired.isSet }
        try await second.task.value.release()
    }

    func secondTakesOver(_ location: StoreLocation, killingTheHolder kill: () -> Void) async throws {
        let second = Acquisition(location)
        try await poll("the coordinator to find the lease taken") { second.waiting.isSet }
        #expect(!second.acquired.isSet)
        kill()
        try await poll("the coordinator to get the lease after its holder died") { second.acquired.isSet }
        try await second.task.value.release()
    }
}

/// A lease being acquired in the background, and what it went through.
private final class Acquisition: Sendable {
    let waiting = Flag()
    let acquired = Flag()
    let task: Task<CoordinatorLease, any Error>

    init(_ location: StoreLocation) {
        let (waiting, acquired) = (self.waiting, self.acquired)
        task = Task {
            let lease = try await CoordinatorLease.acquire(location) { waiting.set() }
            acquired.set()
            return lease
        }
    }
}

private final class Flag: @unchecked Sendable {
    // @unchecked: `value` is only touched with `lock` held.
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// `psql` reading commands from a pipe the test writes to: a session that stays open, idle, until
/// the process is killed.
private final class PsqlSession: @unchecked Sendable {
    // @unchecked: used from the one test that made it; `Process` and `FileHandle` are not Sendable.
    private let process = Process()
    private let input = Pipe()
    private let log: URL

    init(cluster: PostgresCluster, database: String) throws {
        log = try TestPaths.temporaryDirectory("lockstep-psql").appendingPathComponent("psql.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(cluster.port),
                             "-U", PostgresCluster.user, "-d", database]
        process.environment = ["PGPASSWORD": PostgresCluster.password, "PATH": "/usr/bin:/bin"]
        process.standardInput = input
        let output = try FileHandle(forWritingTo: log)
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    var isRunning: Bool { process.isRunning }
    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    func send(_ text: String) { input.fileHandleForWriting.write(Data(text.utf8)) }

    func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
