import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL 15 cluster on a free loopback port, with password (SCRAM) authentication and
/// the `noblestride` example database loaded. Stopped and deleted by `stop()` or at process exit.
public final class PostgresCluster: @unchecked Sendable {
    /// PostgreSQL 15's server binaries, or the newest installed version's where 15 is absent.
    public static let binDirectory: String = {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).sorted(by: >)
        let usable = versions.filter { FileManager.default.isExecutableFile(atPath: "\(base)/\($0)/bin/initdb") }
        return "\(base)/\(usable.contains(15) ? 15 : usable.first ?? 15)/bin"
    }()
    public static let user = "postgres"
    /// The superuser's password in every test cluster; tests that check redaction use their own.
    public static let password = "lockstep-test-pw"

    public let port: Int
    public let directory: URL
    // Replaced by `start(after:)`; guarded by `lock` because a test may stop a cluster from any thread.
    private var server: ManagedProcess
    private let lock = NSLock()

    private init(port: Int, directory: URL, server: ManagedProcess) {
        self.port = port
        self.directory = directory
        self.server = server
    }

    private var currentServer: ManagedProcess {
        lock.lock()
        defer { lock.unlock() }
        return server
    }

    private var dataDirectory: URL { directory.appendingPathComponent("data") }

    private static func launch(dataDirectory: URL, port: Int, socketDirectory: URL) throws -> ManagedProcess {
        let (executable, prefix) = asPostgres("\(binDirectory)/postgres")
        return try ManagedProcess(name: "postgres", executable: executable, arguments: prefix + [
            "-D", dataDirectory.path, "-p", String(port), "-k", socketDirectory.path,
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=100",
        ])
    }

    /// PostgreSQL's shutdown modes (`pg_ctl stop -m …`), by the signal the postmaster takes for each.
    public enum ShutdownMode: Sendable {
        /// Waits for every client to disconnect (SIGTERM).
        case smart
        /// Ends every session, then stops cleanly (SIGINT).
        case fast
        /// Kills every backend at once, no checkpoint; the next start runs crash recovery (SIGQUIT).
        /// Commits that returned survive only if their WAL was flushed: this cluster runs with
        /// `synchronous_commit=off`, so the last fraction of a second of commits may be lost.
        case immediate

        var signal: Int32 {
            switch self {
            case .smart: SIGTERM
            case .fast: SIGINT
            case .immediate: SIGQUIT
            }
        }
    }

    /// Stops the server the way `pg_ctl stop -m mode` would and waits until it has exited; the
    /// cluster's files stay, for `startServer()`.
    public func stopServer(mode: ShutdownMode) throws {
        let server = currentServer
        guard server.isRunning else { return }
        kill(server.pid, mode.signal)
        let deadline = ContinuousClock.now + .seconds(30)
        while server.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        guard !server.isRunning else { throw TestSupportError("postgres did not stop (\(mode)) within 30 s:\n\(server.log)") }
    }

    /// Starts the server again on the same port and files, and waits until it answers queries.
    public func startServer() async throws {
        let fresh = try Self.launch(dataDirectory: dataDirectory, port: port, socketDirectory: directory)
        lock.withLock { server = fresh }
        try await fresh.waitUntilAccepting(port: port)
        try await waitUntilReady()
    }

    /// `pg_ctl restart -m mode`: every client's connection breaks; the data stays.
    public func restart(mode: ShutdownMode) async throws {
        try stopServer(mode: mode)
        try await startServer()
    }

    /// One cluster shared by every test in this process (starting one takes seconds), stopped at exit.
    public static func shared() async throws -> PostgresCluster {
        try await SharedCluster.instance.get()
    }

    /// Starts a new cluster; with `noblestride`, creates that database from `examples/noblestride`.
    public static func start(noblestride: Bool = true) async throws -> PostgresCluster {
        let directory = try TestPaths.temporaryDirectory("lockstep-pg")
        let dataDirectory = directory.appendingPathComponent("data")
        let passwordFile = directory.appendingPathComponent("pwfile")
        try Data((password + "\n").utf8).write(to: passwordFile)
        try giveToPostgres(directory)
        try giveToPostgres(passwordFile)

        try run(asPostgres: "\(binDirectory)/initdb", [
            "-D", dataDirectory.path, "-U", user, "--auth=scram-sha-256", "--pwfile=\(passwordFile.path)",
            "-E", "UTF8", "--locale=C", "--no-sync",
        ])
        let port = try FreePort.next()
        let server = try launch(dataDirectory: dataDirectory, port: port, socketDirectory: directory)
        let cluster = PostgresCluster(port: port, directory: directory, server: server)
        do {
            try await server.waitUntilAccepting(port: port)
            try await cluster.waitUntilReady()
            if noblestride {
                try cluster.psql("CREATE DATABASE noblestride")
                let examples = TestPaths.packageRoot.appendingPathComponent("examples/noblestride")
                try cluster.runFile(examples.appendingPathComponent("schema.sql"), database: "noblestride")
                try cluster.runFile(examples.appendingPathComponent("seed.sql"), database: "noblestride")
            }
        } catch {
            cluster.stop()
            throw error
        }
        return cluster
    }

    /// `postgresql://postgres:<password>@127.0.0.1:<port>/<database>`, with extra query parameters.
    public func uri(database: String = "noblestride", password: String = PostgresCluster.password, query: String = "") -> String {
        let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password
        return "postgresql://\(Self.user):\(encoded)@127.0.0.1:\(port)/\(database)" + (query.isEmpty ? "" : "?\(query)")
    }

    /// Runs SQL through psql as the superuser and returns its unaligned output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try psqlRun(["-c", sql], database: database)
    }

    public func runFile(_ file: URL, database: String) throws {
        try psqlRun(["-f", file.path], database: database)
    }

    /// Stops the server (fast shutdown) and deletes its files.
    public func stop() {
        let server = currentServer
        if server.isRunning {
            kill(server.pid, SIGINT)
            let deadline = ContinuousClock.now + .seconds(10)
            while server.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        }
        server.stop(grace: .seconds(2))
        try? FileManager.default.removeItem(at: directory)
    }

    private func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do { try psql("SELECT 1"); return } catch {
                if ContinuousClock.now > deadline { throw TestSupportError("postgres not ready: \(error)\n\(currentServer.log)") }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    @discardableResult
    private func psqlRun(_ arguments: [String], database: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port),
                             "-U", Self.user, "-d", database] + arguments
        process.environment = ["PGPASSWORD": Self.password, "PGCONNECT_TIMEOUT": "10", "PATH": "/usr/bin:/bin"]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSupportError("psql failed (\(process.terminationStatus)): \(String(decoding: err, as: UTF8.self))")
        }
        return String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // initdb and postgres refuse to run as root: as root, drop to the `postgres` user with setpriv,
    // which execs in place so signals reach the server itself.
    private static func asPostgres(_ executable: String) -> (String, [String]) {
        guard getuid() == 0 else { return (executable, []) }
        return ("/usr/bin/setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", executable])
    }

    private static func giveToPostgres(_ url: URL) throws {
        guard getuid() == 0 else { return }
        guard let entry = getpwnam("postgres") else { throw TestSupportError("no `postgres` user to run the cluster as") }
        guard chown(url.path, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
            throw TestSupportError("chown \(url.path) failed: errno \(errno)")
        }
    }

    private static func run(asPostgres executable: String, _ arguments: [String]) throws {
        let (launcher, prefix) = asPostgres(executable)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: launcher)
        process.arguments = prefix + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: "/tmp")
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSupportError("\(executable) failed (\(process.terminationStatus)): \(String(decoding: text, as: UTF8.self))")
        }
    }
}

/// Starts the shared cluster once, however many tests ask at the same time.
private actor SharedCluster {
    static let instance = SharedCluster()
    private var starting: Task<PostgresCluster, any Error>?

    func get() async throws -> PostgresCluster {
        if let starting { return try await starting.value }
        let task = Task { () throws -> PostgresCluster in
            let cluster = try await PostgresCluster.start()
            ExitCleanup.register("the shared PostgreSQL cluster") { cluster.stop() }
            return cluster
        }
        starting = task
        return try await task.value
    }
}

/// Work to do when the test process exits: shared servers have no test whose end could stop them.
///
/// Each action runs on a thread of its own, and the exit waits for it at most `bound`: an action
/// stuck past that is named on stderr and left behind, so the process still exits (the watchdog in
/// `scripts/run-swift-tests.sh` would otherwise find every test ended and the process still there).
public enum ExitCleanup {
    private final class Registry: @unchecked Sendable {
        let lock = NSLock()
        var actions: [(name: String, action: @Sendable () -> Void)] = []
        var installed = false
    }
    private static let registry = Registry()
    static let bound = Duration.seconds(60)

    public static func register(_ name: String, _ action: @escaping @Sendable () -> Void) {
        registry.lock.lock()
        defer { registry.lock.unlock() }
        registry.actions.append((name, action))
        if !registry.installed {
            registry.installed = true
            atexit { ExitCleanup.runAll() }
        }
    }

    private static func runAll() {
        registry.lock.lock()
        let actions = registry.actions
        registry.actions = []
        registry.lock.unlock()
        for (name, action) in actions {
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                action()
                done.signal()
            }
            thread.name = "exit-cleanup"
            thread.start()
            if done.wait(timeout: .now() + bound.timeInterval) == .timedOut {
                FileHandle.standardError.write(Data("ExitCleanup: stopping \(name) took over \(bound); exiting without it\n".utf8))
            }
        }
    }
}
