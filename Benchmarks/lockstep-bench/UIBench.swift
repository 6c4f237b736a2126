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

/// The web UI's server time (its `Server-Timing`) and size per page with 10,000 runs of 50 DAGs in
/// the store. The DAG list and the grid are the pages Airflow's users watch slow down with history;
/// here each reads one page of runs through the `(dag_id, sequence)` index.
enum UIBench {
    static let dags = 50
    static let requests = 300

    static func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lockstep-bench-ui-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = ["check", "extract", "preprocess", "train", "notify"]
        let specs = (0..<dags).map { d in
            DagSpec(id: "dag_\(d)", description: "benchmark DAG \(d)", schedule: "0 */\(1 + d % 12) * * *", tags: ["bench", "group-\(d % 5)"],
                    tasks: names.enumerated().map { i, id in TaskSpec(id: id, operator: "noop", upstream: i == 0 ? [] : [names[i - 1]]) })
        }
        let store = try await StateStore(.sqlite(path: directory.appendingPathComponent("state.sqlite").path))
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let runtime = Runtime(bus: try EmbeddedBus(directory: directory), store: store, dags: specs, config: LockstepConfig(), logger: logger)
        let ids = try await APIBench.fill(store, specs)
        let server = try await APIServer(runtime: runtime, configuration: .init(host: "127.0.0.1", port: 0, observeBus: false))
        _ = try await UserAdministration.ensureFirstAdmin(server.users, environment: ["LOCKSTEP_ADMIN_PASSWORD": "bench-password-123"], now: Date())
        let group = ServiceGroup(services: [server], logger: logger)
        let serving = Task { try await group.run() }
        let port = try await server.waitUntilListening()
        let base = URL(string: "http://127.0.0.1:\(port)")!
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        let session = URLSession(configuration: configuration)
        var login = URLRequest(url: base.appendingPathComponent("/api/v1/auth/token"))
        login.httpMethod = "POST"
        login.setValue("application/json", forHTTPHeaderField: "Content-Type")
        login.httpBody = Data(#"{"username":"admin","password":"bench-password-123"}"#.utf8)
        let (tokenData, _) = try await session.data(for: login)
        let token = (try JSONSerialization.jsonObject(with: tokenData) as? [String: Any])?["access_token"] as? String ?? ""

        func measure(_ label: String, _ path: () -> String) async throws {
            var server: [Double] = []
            var bytes = 0
            for i in 0..<(requests + 30) {
                var request = URLRequest(url: URL(string: path(), relativeTo: base)!)
                request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                let (data, response) = try await session.data(for: request)
                guard let http = response as? HTTPURLResponse, http.statusCode == 200 else { throw APIBenchError("\(label): \(response)") }
                if i < 30 { continue }
                bytes = data.count
                let timing = http.value(forHTTPHeaderField: "Server-Timing") ?? ""
                server.append(Double(timing.split(separator: "=").last ?? "") ?? 0)
            }
            let (p50, p99) = APIBench.percentiles(server)
            print(String(format: "%@: server p50 %.2f ms, p99 %.2f ms; %.1f KB", label.padding(toLength: 44, withPad: " ", startingAt: 0),
                         p50, p99, Double(bytes) / 1024))
        }
        let encode = { (id: String) in id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id }
        // A grid page deep in one DAG's history: the cursor of the 100th run from the newest.
        let older = "/dags/dag_7?cursor=" + Data("c1:\(APIBench.runs - 100 * dags)".utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        print("\(APIBench.runs) runs of \(dags) DAGs (5 tasks each) in SQLite state; \(requests) requests per page")
        try await measure("/dags (DAG list, 50 DAGs, 10 squares each)") { "/dags" }
        try await measure("/dags/{dag_id} (grid, newest 25 runs)") { "/dags/dag_7" }
        try await measure("/dags/{dag_id}?cursor= (grid, older page)") { older }
        try await measure("/dags/{dag_id}/runs (runs table, 50)") { "/dags/dag_7/runs" }
        try await measure("/dags/{dag_id}/graph") { "/dags/dag_7/graph" }
        try await measure("/dags/{dag_id}/durations (50 runs)") { "/dags/dag_7/durations" }
        try await measure("/dags/{dag_id}/code") { "/dags/dag_7/code" }
        try await measure("/runs (every DAG, 50)") { "/runs" }
        try await measure("/runs/{run_id}") { "/runs/" + encode(ids.randomElement()!) }
        try await measure("/operate/pools") { "/operate/pools" }
        try await measure("/operate/health") { "/operate/health" }
        await group.triggerGracefulShutdown()
        _ = try? await serving.value
        await runtime.close()
    }
}
