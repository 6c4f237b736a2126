import Foundation
import LockstepCore
import LockstepHTTP
import LockstepKafka
import LockstepServices
import LockstepTestSupport
import Testing

/// The API on the Kafka protocol (a Tansu broker) with PostgreSQL state, as in a distributed
/// deployment: a run triggered through one API process is served by a second one sharing the store,
/// which also accepts the first one's token.
@Suite(.serialized) struct APIKafkaPostgresTests {
    @Test(.enabled(if: TansuBroker.isAvailable)) func aRunThroughTheAPIOnKafkaWithPostgresStateIsServedByEveryAPIProcess() async throws {
        let broker = try await TansuBroker.start()
        defer { broker.stop() }
        let cluster = try await PostgresCluster.shared()
        let database = "lockstep_api_\(UUID().uuidString.prefix(8).lowercased())"
        try cluster.psql("CREATE DATABASE \(database)")
        let bus = try KafkaBus(config: KafkaConfig(bootstrapServers: [broker.bootstrap], properties: TansuBroker.clientProperties))
        let system = try await APITestSystem(bus: bus, store: .postgres(uri: cluster.uri(database: database)), workers: 1)

        let client = APIClient(base: system.base)
        try await client.logIn("admin", system.adminPassword)
        let triggered = try await client.send("POST", "/api/v1/dags/api_pipeline/runs", json: ["conf": ["model_type": "kafka"], "idempotency_key": "kpg"])
        #expect(triggered.status == 201, "\(triggered.text)")
        let run = try await system.waitForRun("api_pipeline~kpg", timeout: .seconds(120))
        #expect(run.state == .succeeded)

        // A second API process on the same store: same users, same token key.
        let second = try await APIServer(runtime: system.runtime, configuration: .init(host: "127.0.0.1", port: 0, observeBus: false))
        let serving = Task { try await second.run() }
        let port = try await second.waitUntilListening()
        let other = APIClient(base: URL(string: "http://127.0.0.1:\(port)")!)
        other.defaultHeaders.withLock { $0 = client.defaultHeaders.withLock { $0 } }
        let detail = try await other.get("/api/v1/runs/api_pipeline~kpg")
        #expect(detail.status == 200, "\(detail.text)")
        #expect((detail.object["task_instances"] as? [[String: Any]])?.count == 3)
        try await system.eventually("the run's last event on the broker", timeout: .seconds(60)) {
            let events = try await other.get("/api/v1/runs/api_pipeline~kpg/events")
            let types = (events.object["events"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
            return types.first == "lockstep.run.requested" && types.last == "lockstep.run.succeeded"
        }
        try await system.eventually("the run to be counted", timeout: .seconds(60)) {
            let metrics = try await Prometheus.parse(try await client.get("/metrics").text)
            return metrics[#"lockstep_runs_finished_total{dag_id="api_pipeline",outcome="succeeded"}"#] == 1
        }
        serving.cancel()
        _ = try? await serving.value
        await system.close()
    }
}
