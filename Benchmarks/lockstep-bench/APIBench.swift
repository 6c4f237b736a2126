import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LockstepBus
import LockstepCore
import LockstepHTTP
import LockstepServices
import Logging
import ServiceLifecycle

/// The API's server time with 10,000 runs in the store: the runs list (a page of 100, newest first)
/// and one run with its task instances, each measured by the server's `Server-Timing` and by the
/// client over loopback.
enum APIBench {
    static let runs = 10_000
    static let dags = 10
    static let requests = 1_000

    static func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lockstep-bench-api-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let specs = (0..<dags).map { d in
            DagSpec(id: "dag_\(d)", tasks: ["extract", "train", "report"].enumerated().map { i, id in
                TaskSpec(id: id, operator: "noop", upstream: i == 0 ? [] : [["extract", "train", "report"][i - 1]])
            })
        }
        let store = try await StateStore(.sqlite(path: directory.appendingPathComponent("state.sqlite").path))
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let runtime = Runtime(bus: try EmbeddedBus(directory: directory), store: store, dags: specs, config: LockstepConfig(), logger: logger)
        let ids = try await fill(store, specs)
        let server = try await APIServer(runtime: runtime, configuration: .init(host: "127.0.0.1", port: 0, observeBus: false))
        _ = try await UserAdministration.ensureFirstAdmin(server.users, environment: ["LOCKSTEP_ADMIN_PASSWORD": "bench-password-123"], now: Date())
        let group = ServiceGroup(services: [server], logger: logger)
        let serving = Task { try await group.run() }
        let port = try await server.waitUntilListening()
        let base = URL(string: "http://127.0.0.1:\(port)")!
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        configuration.timeoutIntervalForResource = 60
        let session = URLSession(configuration: configuration)
        var login = URLRequest(url: base.appendingPathComponent("/api/v1/auth/token"))
        login.httpMethod = "POST"
        login.setValue("application/json", forHTTPHeaderField: "Content-Type")
        login.httpBody = Data(#"{"username":"admin","password":"bench-password-123"}"#.utf8)
        let (tokenData, _) = try await session.data(for: login)
        let token = (try JSONSerialization.jsonObject(with: tokenData) as? [String: Any])?["access_token"] as? String ?? ""

        func measure(_ label: String, _ path: () -> String) async throws {
            var server: [Double] = [], client: [Double] = []
            var bytes = 0
            for i in 0..<(requests + 50) {
                var request = URLRequest(url: URL(string: path(), relativeTo: base)!)
                request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                let start = ContinuousClock.now
                let (data, response) = try await session.data(for: request)
                let elapsed = (ContinuousClock.now - start).seconds * 1000
                guard let http = response as? HTTPURLResponse, http.statusCode == 200 else { throw APIBenchError("\(label): \(response)") }
                if i < 50 { continue }
                client.append(elapsed)
                bytes = data.count
                let timing = http.value(forHTTPHeaderField: "Server-Timing") ?? ""
                server.append(Double(timing.split(separator: "=").last ?? "") ?? 0)
            }
            let (s50, s99) = percentiles(server), (c50, c99) = percentiles(client)
            print(String(format: "%@: server p50 %.2f ms, p99 %.2f ms; client round trip p50 %.2f ms, p99 %.2f ms; %d bytes; %d requests",
                         label, s50, s99, c50, c99, bytes, requests))
        }
        print("\(runs) runs of \(dags) DAGs (3 tasks each) in SQLite state")
        try await measure("GET /api/v1/runs (page of 100)") { "/api/v1/runs" }
        try await measure("GET /api/v1/dags/{dag_id}/runs?state=succeeded") { "/api/v1/dags/dag_3/runs?state=succeeded" }
        try await measure("GET /api/v1/runs/{run_id}") { "/api/v1/runs/" + ids.randomElement()! }
        await group.triggerGracefulShutdown()
        _ = try? await serving.value
        await runtime.close()
    }

    /// 10,000 finished runs, made by the engine itself (request, then each task started and
    /// succeeded) and written in one replace.
    static func fill(_ store: StateStore, _ specs: [DagSpec]) async throws -> [RunID] {
        let engine = Engine(dags: specs, config: LockstepConfig())
        var state = EngineState()
        var ids: [RunID] = []
        var now = Date(timeIntervalSince1970: 1_750_000_000)
        for i in 0..<runs {
            let dag = specs[i % specs.count]
            let id = RunID.requested(dagID: dag.id, idempotencyKey: "bench-\(i)")
            ids.append(id)
            _ = engine.apply(.runRequested(RunRequest(runID: id, dagID: dag.id, logicalDate: now)), to: &state, now: now)
            for task in dag.tasks {
                let attempt = AttemptID(runID: id, taskID: task.id, tryNumber: 1)
                now += 0.01
                _ = engine.apply(.taskStarted(attempt, worker: "bench"), to: &state, now: now)
                now += 0.05
                _ = engine.apply(.taskSucceeded(attempt, TaskSuccess(output: ["rows": .int(Int64(i))])), to: &state, now: now)
            }
        }
        try await store.replaceEngine(state: state, timers: [:])
        return ids
    }

    static func percentiles(_ samples: [Double]) -> (Double, Double) {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return (0, 0) }
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
    }
}

struct APIBenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
