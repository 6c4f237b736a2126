import CRdKafka
import Foundation
import LockstepBus
import LockstepCore
import LockstepKafka
import LockstepOperators
import LockstepServices
import LockstepTestKit
import LockstepTestSupport
import LockstepWire
import Testing

/// A downstream consumer that knows nothing of Lockstep — plain librdkafka and Foundation's JSON —
/// follows a real training run (PostgreSQL, FastAPI) from the topics alone and reads the model version.
@Suite(.serialized) struct DownstreamSubscriberTests {
    @Test func aPlainKafkaConsumerReceivesTheRunAndModelEventsOfATrainingRun() async throws {
        let broker = try await TansuBroker.start()
        defer { broker.stop() }
        let cluster = try await PostgresCluster.shared()
        let fastapi = try await FastAPIService.shared()
        let root = TestPaths.packageRoot
        let deployment = try SeedDeployment.load(
            root: root, variables: ["FASTAPI_BASE_URL": fastapi.baseURL, "ML_DIR": root.appendingPathComponent("ml").path],
            connections: ["noblestride_postgres": cluster.uri()])
        let (config, dags) = (deployment.config, deployment.dags)
        let dir = try TestPaths.temporaryDirectory("lockstep-downstream")
        let bus = try Transport.kafka.busForBroker(broker)
        let system = try await InProcessLockstep(dags: dags, config: config, directory: dir, bus: bus)
        try await system.runtime.createTopics()

        let subscriber = try PlainSubscriber(servers: broker.bootstrap, topics: ["lockstep.runs.events", "lockstep.models.events"])
        defer { subscriber.close() }
        system.start()
        let runID = try await system.trigger("recommender_training_pipeline", idempotencyKey: "downstream-1")

        // Everything the subscriber needs is in the events: no call back to Lockstep.
        var modelVersion: String?
        var runSucceeded: [String: Any]?
        let deadline = Date().addingTimeInterval(120)
        while (modelVersion == nil || runSucceeded == nil) && Date() < deadline {
            guard let message = try await subscriber.poll() else { continue }
            let data = try JSONSerialization.jsonObject(with: message.value) as? [String: Any]
            switch message.headers["ce_type"] {
            case "lockstep.model.trained" where data?["run_id"] as? String == runID:
                modelVersion = data?["model_version"] as? String
            case "lockstep.run.succeeded" where data?["run_id"] as? String == runID:
                runSucceeded = data
            default: break
            }
        }
        let run = try await system.waitForRun(runID, timeout: .seconds(30))
        await system.close()
        #expect(run.state == .succeeded)
        let version = try #require(modelVersion)
        #expect(version.wholeMatch(of: /v\d{8}_\d{6}/) != nil)
        let outputs = try #require(runSucceeded?["output"] as? [String: Any])
        let trained = try #require(outputs["train_model"] as? [String: Any])
        #expect(trained["model_version"] as? String == version)
        #expect(runSucceeded?["dag_id"] as? String == "recommender_training_pipeline")
        #expect(runSucceeded?["logical_date"] is String && runSucceeded?["duration_ms"] is Int)
    }
}

extension Transport {
    func busForBroker(_ broker: TansuBroker) throws -> any EventBus {
        try KafkaBus(config: KafkaConfig(bootstrapServers: [broker.bootstrap], properties: TansuBroker.clientProperties))
    }
}

/// librdkafka's C consumer, used the way any Kafka client would: subscribe, poll, read headers and value.
final class PlainSubscriber: @unchecked Sendable {
    // @unchecked: the handle is used from one test task at a time (`poll` runs on a thread of its own).
    private let handle: OpaquePointer

    struct Message: Sendable {
        var headers: [String: String]
        var value: Data
    }

    init(servers: String, topics: [String]) throws {
        let conf = rd_kafka_conf_new()
        var error = [CChar](repeating: 0, count: 512)
        for (key, value) in [
            ("bootstrap.servers", servers), ("group.id", "downstream-\(UUID().uuidString.prefix(6))"),
            ("auto.offset.reset", "earliest"), ("session.timeout.ms", "6000"), ("heartbeat.interval.ms", "500"),
            ("fetch.wait.max.ms", "10"),
        ] {
            guard rd_kafka_conf_set(conf, key, value, &error, error.count) == RD_KAFKA_CONF_OK else {
                throw TestSupportError("librdkafka config \(key): \(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
            }
        }
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &error, error.count) else {
            throw TestSupportError("rd_kafka_new: \(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        handle = rk
        rd_kafka_poll_set_consumer(rk)
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
        let err = rd_kafka_subscribe(rk, list)
        rd_kafka_topic_partition_list_destroy(list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw TestSupportError("subscribe: \(String(cString: rd_kafka_err2str(err)))") }
    }

    /// The next message within 200 ms, or nil.
    func poll() async throws -> Message? {
        await withCheckedContinuation { continuation in
            Thread { [self] in
                let rk = handle
                guard let message = rd_kafka_consumer_poll(rk, 200) else { return continuation.resume(returning: nil) }
                defer { rd_kafka_message_destroy(message) }
                guard message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR, let payload = message.pointee.payload else {
                    return continuation.resume(returning: nil)
                }
                var headers: [String: String] = [:]
                var list: OpaquePointer?
                if rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list {
                    var index = 0
                    var name: UnsafePointer<CChar>?
                    var value: UnsafeRawPointer?
                    var size = 0
                    while rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                        if let name, let value {
                            headers[String(cString: name)] = String(decoding: UnsafeRawBufferPointer(start: value, count: size), as: UTF8.self)
                        }
                        index += 1
                    }
                }
                let value = Data(bytes: payload, count: message.pointee.len)
                continuation.resume(returning: Message(headers: headers, value: value))
            }.start()
        }
    }

    func close() {
        rd_kafka_consumer_close(handle)
        rd_kafka_destroy(handle)
    }
}
