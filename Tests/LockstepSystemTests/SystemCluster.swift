import Foundation
import LockstepBus
import LockstepCore
import LockstepKafka
import LockstepOperators
import LockstepServices
import LockstepTestSupport
import LockstepWire
import Testing

/// The whole system as separate processes: a Tansu broker, a throwaway PostgreSQL cluster (the
/// `noblestride` sample data and a `lockstep_state` database for the state store), the reference
/// FastAPI and Node.js services, and the real `lockstep` binary as `scheduler`, `coordinator`, two
/// `worker`s and `notifier`, all on `--bus kafka://…` and `--state postgresql://…`.
///
/// One instance is shared by the serialized system suite (starting it takes several seconds and every
/// consumer group join on Tansu takes ~3 s). Tests tell their runs apart by run id, never by totals,
/// and call `prepare()` first, which restarts any component an earlier test killed and puts the
/// FastAPI knobs back to healthy.
final class SystemCluster: @unchecked Sendable {
    let postgres: PostgresCluster
    let fastapi: FastAPIService
    let node: NodeService
    let root: URL
    let configFile: URL
    let dagsDirectory: URL
    let reportsDirectory: URL
    let topics = Topics()
    let dags: [DagSpec]

    /// The broker and the state database the components use now, with our own clients of them.
    /// Replaced by `relocate` (a fresh broker, another database); guarded by `lock`.
    private struct Target {
        var broker: TansuBroker
        var stateURI: String
        var bus: KafkaBus
        var store: StateStore?
    }
    private var target: Target

    var broker: TansuBroker { lock.withLock { target.broker } }
    var busURL: String { broker.busURL() }
    var stateURI: String { lock.withLock { target.stateURI } }
    /// A client of our own on the same broker: producers publish run requests with it, and it reads topics.
    var bus: KafkaBus { lock.withLock { target.bus } }
    /// The same PostgreSQL state store the components write (read here; opening it migrates like any
    /// component would, which is why `relocate` can leave it closed until the components are up).
    var store: StateStore {
        guard let store = lock.withLock({ target.store }) else { preconditionFailure("the state store client is not open: call openStore()") }
        return store
    }

    private let lock = NSLock()
    private var components: [String: ManagedProcess] = [:]
    /// Every process ever started (killed ones too), for logs on failure.
    private var history: [ManagedProcess] = []
    /// `lockstep trigger`/`runs` processes, kept alive until the fixture goes.
    private var cliProcesses: [Process] = []
    /// Processes a test killed on purpose; any other exit is a crash.
    private var killedOnPurpose: Set<Int32> = []

    static let componentNames = ["scheduler", "coordinator", "worker-1", "worker-2", "notifier"]

    // MARK: Start and stop

    /// The suite's one system, started on first use and stopped when the test process exits.
    static func shared() async throws -> SystemCluster { try await SharedSystem.instance.get() }

    /// The fault-tolerance suite's system (another broker, database and set of processes).
    static func sharedForFaults() async throws -> SystemCluster { try await SharedSystem.faults.get() }

    private init(broker: TansuBroker, postgres: PostgresCluster, fastapi: FastAPIService, node: NodeService, root: URL,
                 configFile: URL, dagsDirectory: URL, reportsDirectory: URL, stateURI: String, dags: [DagSpec]) async throws {
        self.postgres = postgres
        self.fastapi = fastapi
        self.node = node
        self.root = root
        self.configFile = configFile
        self.dagsDirectory = dagsDirectory
        self.reportsDirectory = reportsDirectory
        self.dags = dags
        target = Target(broker: broker, stateURI: stateURI, bus: try Self.client(of: broker), store: try await StateStore(.postgres(uri: stateURI)))
    }

    private static func client(of broker: TansuBroker) throws -> KafkaBus {
        try KafkaBus(config: KafkaConfig(bootstrapServers: [broker.bootstrap], properties: TansuBroker.clientProperties, requestTimeout: .seconds(20)))
    }

    /// `start()` starts every component, one group at a time; `startComponents: false` leaves that
    /// to the test (e.g. to start them all at the same instant).
    static func start(startComponents: Bool = true) async throws -> SystemCluster {
        guard TansuBroker.isAvailable else { throw TestSupportError("tansu is not installed: run scripts/install-deps.sh") }
        let lockstep = TestPaths.lockstepExecutable
        guard FileManager.default.isExecutableFile(atPath: lockstep.path) else {
            throw TestSupportError("the lockstep binary is not built at \(lockstep.path): run `swift build --build-tests` first")
        }
        async let brokerStart = TansuBroker.start()
        async let postgresStart = PostgresCluster.start()
        async let fastapiStart = FastAPIService.start()
        async let nodeStart = NodeService.start()
        let broker = try await brokerStart
        let postgres = try await postgresStart
        let fastapi = try await fastapiStart
        let node = try await nodeStart
        try createStateDatabase("lockstep_state", on: postgres)

        let root = try TestPaths.temporaryDirectory("lockstep-system")
        let (configFile, dagsDirectory) = try SystemDags.write(into: root)
        let reports = root.appendingPathComponent("reports")
        try FileManager.default.createDirectory(at: reports, withIntermediateDirectories: true)
        let dags = try DeploymentFiles.load(config: configFile, dags: dagsDirectory, environment: SystemDags.environment).dags
        let system = try await SystemCluster(
            broker: broker, postgres: postgres, fastapi: fastapi, node: node, root: root, configFile: configFile,
            dagsDirectory: dagsDirectory, reportsDirectory: reports, stateURI: postgres.uri(database: "lockstep_state"), dags: dags)
        guard startComponents else { return system }
        // The coordinator first, so the topics exist before anyone subscribes or reads.
        for name in componentNames { try system.startComponent(name) }
        for name in componentNames where name != "scheduler" { try await system.waitUntilAssigned(name) }
        return system
    }

    /// A database for the state store. Commits are durable when acknowledged, as with PostgreSQL's
    /// default: the test cluster runs with `synchronous_commit=off` for speed, under which an
    /// immediate stop loses the last commits the store was told were done — a loss no component
    /// can make up for, and not one a real deployment has.
    static func createStateDatabase(_ name: String, on postgres: PostgresCluster) throws {
        try postgres.psql("CREATE DATABASE \(name)")
        try postgres.psql("ALTER DATABASE \(name) SET synchronous_commit = on")
    }

    /// Moves the system to a fresh broker and/or another state database: kills every component
    /// (marked as intended), replaces our own clients, and starts nothing. With `openStore: false`
    /// our store client stays closed (`openStore()` opens it) so that the components are the ones
    /// that find the database as it is and migrate it.
    func relocate(freshBroker: Bool, stateDatabase: String?, openStore: Bool = true) async throws {
        for name in Self.componentNames { kill9(name) }
        lock.withLock { components = [:] }
        let old = lock.withLock { target }
        await old.bus.close()
        await old.store?.close()
        var next = old
        next.store = nil
        if freshBroker {
            // SIGKILL: nothing on it is needed again, and Tansu takes its time over a SIGTERM.
            old.broker.process.kill9()
            next.broker = try await TansuBroker.start()
            next.bus = try Self.client(of: next.broker)
        } else {
            next.bus = try Self.client(of: old.broker)
        }
        if let stateDatabase { next.stateURI = postgres.uri(database: stateDatabase) }
        lock.withLock { target = next }
        if openStore { try await self.openStore() }
    }

    /// Opens our client of the current state database (migrating it, as any component would).
    func openStore() async throws {
        let store = try await StateStore(.postgres(uri: stateURI))
        lock.withLock { target.store = store }
    }

    /// Starts every component at the same instant (no waiting between them), as a deployment whose
    /// processes all start together would.
    func startAllComponents() throws {
        for name in Self.componentNames { try startComponent(name) }
    }

    func stop() {
        lock.lock()
        let running = Array(components.values)
        components = [:]
        lock.unlock()
        for process in running { process.stop(grace: .seconds(5)) }
        let target = lock.withLock { self.target }
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            await target.bus.close()
            await target.store?.close()
            done.signal()
        }
        _ = done.wait(timeout: .now() + 10)
        fastapi.stop()
        node.stop()
        target.broker.stop()
        postgres.stop()
        try? FileManager.default.removeItem(at: root)
    }

    // MARK: Components

    /// The environment every component gets: the reference services and the sample database.
    var componentEnvironment: [String: String] {
        [
            "LOCKSTEP_VAR_FASTAPI_BASE_URL": fastapi.baseURL,
            "LOCKSTEP_VAR_NODEJS_BASE_URL": node.baseURL,
            "LOCKSTEP_VAR_REPORTS_DIR": reportsDirectory.path,
            "LOCKSTEP_CONN_NOBLESTRIDE_POSTGRES": postgres.uri(database: "noblestride"),
            "LOCKSTEP_PACKS": SystemDags.environment["LOCKSTEP_PACKS"]!,
            "LOCKSTEP_VAR_ML_DIR": TestPaths.packageRoot.appendingPathComponent("ml").path,
            // Ours come from the command line: nothing from the test's own environment may override them.
            "LOCKSTEP_BUS": "", "LOCKSTEP_STATE": "",
        ]
    }

    /// `--config … --dags … --bus … --state … --data-dir …`.
    func commonArguments(dataDirectory: String) -> [String] {
        ["--config", configFile.path, "--dags", dagsDirectory.path, "--bus", busURL, "--state", stateURI, "--data-dir", dataDirectory,
         // debug: the Kafka consumers log their partition assignments, which the tests wait on.
         "--log-level", "debug"]
    }

    /// Starts `scheduler`, `coordinator`, `worker-N` or `notifier` as its own `lockstep` process.
    func startComponent(_ name: String) throws {
        let command = name.hasPrefix("worker") ? "worker" : name
        let data = root.appendingPathComponent("data-\(name)")
        var arguments = [command] + commonArguments(dataDirectory: data.path)
        if command == "worker" { arguments += ["--concurrency", "2"] }
        let process = try ManagedProcess(
            name: "lockstep-\(name)", executable: TestPaths.lockstepExecutable.path, arguments: arguments,
            environment: componentEnvironment)
        lock.lock()
        components[name] = process
        history.append(process)
        lock.unlock()
    }

    func component(_ name: String) -> ManagedProcess? {
        lock.lock()
        defer { lock.unlock() }
        return components[name]
    }

    /// The component process whose worker id (`worker/<host>-<pid>/<slot>`) names `workerID`.
    func workerComponent(forWorkerID workerID: String) -> (name: String, process: ManagedProcess)? {
        lock.lock()
        defer { lock.unlock() }
        return components.first { $0.key.hasPrefix("worker") && Self.pid(ofWorkerID: workerID) == $0.value.pid }.map { ($0.key, $0.value) }
    }

    /// The process id in a worker id `<name>/<host>-<pid>/<slot>`.
    static func pid(ofWorkerID workerID: String) -> Int32? {
        let parts = workerID.split(separator: "/")
        guard parts.count >= 3, let pid = parts[parts.count - 2].split(separator: "-").last else { return nil }
        return Int32(pid)
    }

    /// Restarts any component that is not running (a test killed it; anything else is recorded as a
    /// crash), waits until the restarted ones hold partitions of their groups, and puts FastAPI's
    /// knobs back.
    func prepare() async throws {
        expectNoCrashes()
        var restarted: [String] = []
        for name in Self.componentNames where component(name)?.isRunning != true {
            try startComponent(name)
            restarted.append(name)
        }
        for name in restarted where name != "scheduler" { try await waitUntilAssigned(name) }
        try await fastapi.control(["healthy": true, "fail_status": 0, "delay_seconds": 0])
    }

    /// SIGKILL for a component, marked as intended.
    func kill9(_ name: String) {
        guard let process = component(name) else { return }
        lock.lock()
        killedOnPurpose.insert(process.pid)
        lock.unlock()
        process.kill9()
    }

    /// SIGTERM for a component, marked as intended; its exit status (SIGKILL after `grace`).
    func stopGracefully(_ name: String, grace: Duration = .seconds(20)) -> (status: Int32, reason: Process.TerminationReason) {
        guard let process = component(name) else { return (0, .exit) }
        lock.lock()
        killedOnPurpose.insert(process.pid)
        lock.unlock()
        process.stop(grace: grace)
        return (process.process.terminationStatus, process.process.terminationReason)
    }

    /// Records an issue for every component that exited without a test killing it.
    func expectNoCrashes(sourceLocation: SourceLocation = #_sourceLocation) {
        lock.lock()
        let crashed = history.filter { !$0.isRunning && !killedOnPurpose.contains($0.pid) }
        for process in crashed { killedOnPurpose.insert(process.pid) }  // report each once
        lock.unlock()
        for process in crashed {
            Issue.record("\(process.name) (pid \(process.pid)) exited on its own with status \(process.process.terminationStatus):\n\(String(process.log.suffix(6000)))",
                         sourceLocation: sourceLocation)
        }
    }

    /// Waits until each of the component's consumers (two per worker and notifier, one coordinator)
    /// has been assigned partitions, i.e. its group joins are done: a test that kills or counts
    /// must not race the rebalance a restart causes.
    func waitUntilAssigned(_ name: String, timeout: Duration = .seconds(90)) async throws {
        let (group, members) = name == "coordinator" ? (Coordinator.group, 1) : name == "notifier" ? ("lockstep-notifier", 2) : ("lockstep-workers", 2)
        try await waitUntil("\(name) to be assigned partitions of \(group) (\(members) consumers)", timeout: timeout) {
            guard let process = self.component(name) else { return false }
            if !process.isRunning { throw SystemTestFailure("\(name) exited (status \(process.process.terminationStatus))", system: self) }
            // Non-empty assignments only: a cooperative rebalance also logs `assigned []`.
            return process.log.components(separatedBy: "group \(group) assigned [lockstep.").count - 1 >= members
        }
    }

    func waitForLog(_ name: String, containing text: String, timeout: Duration = .seconds(60)) async throws {
        try await waitUntil("\(name) logs `\(text)`", timeout: timeout) {
            guard let process = self.component(name) else { return false }
            if !process.isRunning { throw SystemTestFailure("\(name) exited (status \(process.process.terminationStatus))", system: self) }
            return process.log.contains(text)
        }
    }

    /// How far each running component's log has got: `logs(since:)` gives what was written after.
    func logMarks() -> [String: Int] {
        lock.withLock { components.mapValues { $0.log.utf8.count } }
    }

    /// What each component still running logged since `marks`.
    func logs(since marks: [String: Int]) -> [String: String] {
        let running = lock.withLock { components }
        return running.reduce(into: [:]) { out, entry in
            let bytes = Array(entry.value.log.utf8)
            let from = min(marks[entry.key] ?? 0, bytes.count)
            out[entry.key] = String(decoding: bytes[from...], as: UTF8.self)
        }
    }

    /// The process id of each component running now.
    func pids() -> [String: Int32] {
        lock.withLock { components.filter { $0.value.isRunning }.mapValues(\.pid) }
    }

    /// Every component's log (killed ones too), the broker's tail, for failure messages.
    func diagnostics(tail: Int = 6000) -> String {
        lock.lock()
        let all = history
        lock.unlock()
        var text = ""
        for process in all + [broker.process, fastapi.process] {
            let log = process.log
            let state = process.isRunning ? "running" : "exited \(process.process.terminationStatus)"
            text += "\n===== \(process.name) pid \(process.pid) (\(state)) \(process.logURL.path) =====\n"
            text += log.count > tail ? "…" + String(log.suffix(tail)) : log
        }
        return text
    }

    // MARK: Producing

    /// Publishes `lockstep.run.requested` events in one batch, as any producer would; returns the run
    /// ids they get (`<dag>~<idempotency key>`).
    @discardableResult
    func requestRuns(_ requests: [(dag: String, key: String)]) async throws -> [RunID] {
        let records = requests.map { request in
            CloudEvent(
                id: UUID().uuidString, source: "lockstep-system-tests/producer", type: EventType.runRequested, time: Date(),
                subject: request.dag,
                data: ["dag_id": .string(request.dag), "conf": .emptyObject, "idempotency_key": .string(request.key)]
            ).record(topic: topics.runRequests, key: request.dag)
        }
        try await bus.publish(records)
        return requests.map { "\($0.dag)~\($0.key)" }
    }

    func requestRun(_ dag: String, key: String = SystemCluster.uniqueKey()) async throws -> RunID {
        try await requestRuns([(dag, key)])[0]
    }

    static func uniqueKey(_ prefix: String = "sys") -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    // MARK: The lockstep command line

    /// Runs `lockstep ARGS` to completion: its exit status, standard output and standard error.
    func lockstep(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> (status: Int32, output: String, errors: String) {
        let base = root.appendingPathComponent("cli-\(UUID().uuidString.prefix(8))")
        let outURL = base.appendingPathExtension("out"), errURL = base.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
        }
        let process = Process()
        process.executableURL = TestPaths.lockstepExecutable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(componentEnvironment) { _, new in new }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        // Polled rather than a terminationHandler, and the Process kept for the life of the fixture:
        // Foundation on Linux has crashed the test process (SIGSEGV in pthread_mutex_lock on a
        // dispatch thread) when short-lived Process objects were released while being monitored.
        keep(process)
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { kill(process.processIdentifier, SIGKILL) }
            if ContinuousClock.now >= deadline + .seconds(10) {
                throw TestSupportError("lockstep \(arguments.joined(separator: " ")) still running 10 s after SIGKILL")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return (process.terminationStatus, (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    private func keep(_ process: Process) {
        lock.lock()
        defer { lock.unlock() }
        cliProcesses.append(process)
    }

    /// `lockstep trigger DAG --idempotency-key KEY` on the bus: the CLI as a producer.
    func trigger(_ dag: String, key: String) async throws -> RunID {
        let (status, output, errors) = try await lockstep(
            ["trigger", dag, "--idempotency-key", key] + commonArguments(dataDirectory: root.appendingPathComponent("data-cli").path))
        guard status == 0, let line = output.split(separator: "\n").first(where: { $0.hasPrefix("requested run ") }) else {
            throw SystemTestFailure("lockstep trigger \(dag) exited \(status):\n\(output)\n\(errors)", system: self)
        }
        return String(line.dropFirst("requested run ".count))
    }

    /// `lockstep runs [--dag DAG] [--json]` against the same PostgreSQL state.
    func runsCommand(_ extra: [String]) async throws -> String {
        let (status, output, errors) = try await lockstep(["runs"] + extra + commonArguments(dataDirectory: root.appendingPathComponent("data-cli").path))
        guard status == 0 else { throw SystemTestFailure("lockstep runs exited \(status):\n\(output)\n\(errors)", system: self) }
        return output
    }

    // MARK: Observing

    /// Polls `condition` until it holds; on timeout, fails with what it waited for and every log.
    func waitUntil(_ what: String, timeout: Duration = .seconds(120), poll: Duration = .milliseconds(200),
                   _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            if try await condition() { return }
            if ContinuousClock.now >= deadline { throw SystemTestFailure("timed out after \(timeout) waiting for \(what)", system: self) }
            try await Task.sleep(for: poll)
        }
    }

    /// Waits until every run has finished; returns them in the order asked.
    func waitForRuns(_ ids: [RunID], timeout: Duration = .seconds(120)) async throws -> [DagRun] {
        var finished: [RunID: DagRun] = [:]
        try await waitUntil("runs \(ids) to finish", timeout: timeout) {
            for id in ids where finished[id] == nil {
                if let run = try await store.run(id), run.state.isTerminal { finished[id] = run }
            }
            return finished.count == ids.count
        } onTimeout: {
            var text = ""
            for id in ids {
                let run = try? await self.store.run(id)
                text += "\n  \(id): " + (run.map { "\($0.state) \($0.tasks.mapValues { "\($0.state.rawValue)#\($0.tryNumber)" })" } ?? "not created")
            }
            return text
        }
        return ids.map { finished[$0]! }
    }

    func waitForRun(_ id: RunID, timeout: Duration = .seconds(120)) async throws -> DagRun {
        try await waitForRuns([id], timeout: timeout)[0]
    }

    /// Every event on a topic, decoded (records that are not CloudEvents are left out).
    func events(on topic: String) async throws -> [CloudEvent] {
        try await records(on: topic).map(\.event)
    }

    /// Every event on a topic with the position it was read at.
    func records(on topic: String) async throws -> [(position: RecordPosition, event: CloudEvent)] {
        try await bus.read(topic: topic, from: .beginning, to: .latest).readAll().compactMap { record in
            (try? CloudEvent(record)).map { (record.position, $0) }
        }
    }

    /// Polls a topic until `done` holds for its events (the coordinator commits state before it
    /// publishes, so a finished run's events may trail the store by a moment).
    func events(on topic: String, timeout: Duration = .seconds(60), until done: @escaping ([CloudEvent]) -> Bool) async throws -> [CloudEvent] {
        var seen: [CloudEvent] = []
        try await waitUntil("events on \(topic)", timeout: timeout, poll: .milliseconds(250)) {
            seen = try await events(on: topic)
            return done(seen)
        }
        return seen
    }

    /// Pooled tasks of every DAG: `dag id → task ids` whose `pool` is `pool`.
    func pooledTasks(_ pool: String) -> [String: Set<String>] {
        dags.reduce(into: [:]) { $0[$1.id] = Set($1.tasks.filter { $0.pool == pool }.map(\.id)) }
    }
}

extension SystemCluster {
    /// `waitUntil` with extra detail for the failure message.
    func waitUntil(_ what: String, timeout: Duration, _ condition: () async throws -> Bool,
                   onTimeout detail: () async -> String) async throws {
        do {
            try await waitUntil(what, timeout: timeout, condition)
        } catch let failure as SystemTestFailure {
            throw SystemTestFailure(failure.summary + (await detail()), system: self)
        }
    }
}

/// A failed expectation about the running system, with every component's log attached.
struct SystemTestFailure: Error, CustomStringConvertible {
    var summary: String
    var logs: String
    init(_ summary: String, system: SystemCluster) {
        self.summary = summary
        logs = system.diagnostics()
    }
    var description: String { summary + "\n--- component logs ---" + logs }
}

/// Starts a suite's system once, however many tests ask; stops it when the process exits.
private actor SharedSystem {
    /// `SystemTests`' system, its components started one group at a time.
    static let instance = SharedSystem(startComponents: true)
    /// `FaultToleranceTests`' own system: it restarts the database and freezes the broker, which no
    /// other suite's tests should feel. Its tests start the components themselves.
    static let faults = SharedSystem(startComponents: false)

    private let startComponents: Bool
    private var starting: Task<SystemCluster, any Error>?

    init(startComponents: Bool) { self.startComponents = startComponents }

    func get() async throws -> SystemCluster {
        if let starting { return try await starting.value }
        let startComponents = self.startComponents
        let task = Task { () throws -> SystemCluster in
            let system = try await SystemCluster.start(startComponents: startComponents)
            ExitCleanup.register("a shared system (components, broker, database, services)") { system.stop() }
            return system
        }
        starting = task
        return try await task.value
    }
}
