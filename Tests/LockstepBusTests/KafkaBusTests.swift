
import Foundation
import LockstepBus
@testable import LockstepKafka
import LockstepTestSupport
import Testing

/// KafkaBus against a real Kafka-protocol broker (Tansu), plus its configuration and version checks.
@Suite("KafkaBus", .serialized)
struct KafkaBusTests {
    // MARK: Without a broker

    @Test func versionCheckRejectsOldLibraryAndAcceptsLoadedOne() throws {
        #expect(throws: Never.self) { try KafkaVersion.check() }
        #expect(KafkaVersion.loaded >= KafkaVersion.minimum)
        do {
            try KafkaVersion.check(0x0200_02ff, libraryPath: "/usr/lib/x86_64-linux-gnu/librdkafka.so.1")
            Issue.record("2.0.2 was accepted")
        } catch let error as KafkaSetupError {
            #expect(error.description.contains("2.0.2"))
            #expect(error.description.contains("2.8.0"))
            #expect(error.description.contains("/usr/lib/x86_64-linux-gnu/librdkafka.so.1"))
        }
    }

    @Test func configFromURLEnvironmentAndRedaction() throws {
        var config = try KafkaConfig(url: "kafka://b1:9092,b2:9093?client.id=lockstep&linger.ms=5")
        #expect(config.bootstrapServers == ["b1:9092", "b2:9093"])
        #expect(config.properties == ["client.id": "lockstep", "linger.ms": "5"])
        config = config.applying(environment: [
            "LOCKSTEP_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "LOCKSTEP_KAFKA_SASL_MECHANISMS": "SCRAM-SHA-512",
            "LOCKSTEP_KAFKA_SASL_USERNAME": "svc",
            "LOCKSTEP_KAFKA_SASL_PASSWORD": "hunter2",
            "LOCKSTEP_KAFKA_SSL_CA_LOCATION": "/etc/ssl/ca.pem",
            "LOCKSTEP_KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092",
            "UNRELATED": "x",
        ])
        #expect(config.bootstrapServers == ["k1:9092", "k2:9092"])
        #expect(config.properties["security.protocol"] == "SASL_SSL")
        #expect(config.properties["sasl.mechanisms"] == "SCRAM-SHA-512")
        #expect(config.properties["ssl.ca.location"] == "/etc/ssl/ca.pem")
        #expect(config.properties["sasl.password"] == "hunter2")
        #expect(!config.description.contains("hunter2"))
        #expect(config.description.contains("sasl.username=svc"))
        #expect(throws: KafkaSetupError.self) { try KafkaConfig(url: "http://b1:9092") }
        #expect(throws: KafkaSetupError.self) { try KafkaConfig(url: "kafka://b1") }
    }

    @Test func rejectedSecretPropertyIsNotEchoed() throws {
        let config = KafkaConfig(bootstrapServers: ["127.0.0.1:1"], properties: ["ssl.key.password": "s3cret", "no.such.property": "s3cret"])
        do {
            _ = try KafkaBus(config: config)
            Issue.record("an unknown property was accepted")
        } catch {
            #expect(!"\(error)".contains("s3cret") || "\(error)".contains("no.such.property"))
        }
    }

    @Test func unreachableBrokerErrorNamesBootstrapServers() async throws {
        let port = try FreePort.next()  // nothing listens here
        let config = KafkaConfig(bootstrapServers: ["127.0.0.1:\(port)"], requestTimeout: .seconds(2))
        let bus = try KafkaBus(config: config)
        do {
            _ = try await bus.listTopics()
            Issue.record("listTopics succeeded without a broker")
        } catch let error as KafkaError {
            #expect(error.description.contains("127.0.0.1:\(port)"))
            #expect(error.isRetriable)
            #expect(!error.isFatal)
        }
        // The client is still usable: it keeps retrying in the background rather than failing for good.
        await #expect(throws: KafkaError.self) { try await bus.createTopic("later", partitions: 1) }
        await bus.close()
    }

    // MARK: On Tansu

    @Test(.enabled(if: KafkaFixture.isAvailable)) func publishAndConsumeInKeyOrder() async throws {
        let fixture = try await KafkaFixture.start()
        defer { fixture.stop() }
        let bus = fixture.bus
        try await bus.createTopic("runs.events", partitions: 3)
        try await bus.createTopic("runs.events", partitions: 3)  // idempotent
        #expect(try await bus.listTopics().contains(TopicInfo(name: "runs.events", partitions: 3)))

        let records = (0..<12).map { i in
            OutgoingRecord(topic: "runs.events", key: "run-\(i % 3)", value: Array("event-\(i)".utf8))
        }
        let positions = try await bus.publish(records)
        #expect(positions.count == 12)
        #expect(Set(positions).count == 12)
        // One key, one partition.
        for key in 0..<3 {
            #expect(Set(positions.enumerated().filter { $0.offset % 3 == key }.map(\.element.partition)).count == 1)
        }

        let consumer = try await bus.subscribe(group: "coordinator", topics: ["runs.events"])
        var received: [BusRecord] = []
        while received.count < 12 { received.append(try await nextRecord(consumer)) }
        #expect(Set(received.map(\.position)) == Set(positions))
        for key in 0..<3 {
            let values = received.filter { $0.key == "run-\(key)" }.map { String(decoding: $0.value, as: UTF8.self) }
            #expect(values == stride(from: key, to: 12, by: 3).map { "event-\($0)" })
        }
        await consumer.close()
        #expect(try await consumer.next() == nil)
        await fixture.stop()
    }

    @Test(.enabled(if: KafkaFixture.isAvailable)) func headersKeysAndTimestampsRoundTrip() async throws {
        let fixture = try await KafkaFixture.start()
        defer { fixture.stop() }
        let bus = fixture.bus
        try await bus.createTopic("tasks.results", partitions: 1)
        let time = Date(timeIntervalSince1970: 1_700_000_000.123)
        let sent = OutgoingRecord(
            topic: "tasks.results", key: nil, value: Array(#"{"ok":true}"#.utf8),
            headers: [BusHeader("ce_type", "task.succeeded"), BusHeader("bin", [0, 255, 7]), BusHeader("empty", [])],
            timestamp: time)
        try await bus.publish(sent)
        try await bus.publish(OutgoingRecord(topic: "tasks.results", key: "", value: []))
        let reader = try await bus.read(topic: "tasks.results", from: .beginning, to: .latest)
        let all = try await reader.readAll()
        try #require(all.count == 2)
        #expect(all[0].key == nil)
        #expect(all[0].value == sent.value)
        #expect(all[0].header("ce_type")?.stringValue == "task.succeeded")
        #expect(all[0].header("bin")?.value == [0, 255, 7])
        #expect(all[0].header("empty")?.value == [])
        #expect(all[0].headers.map(\.name) == ["ce_type", "bin", "empty"])
        #expect(abs(all[0].timestamp.timeIntervalSince(time)) < 0.001)
        #expect(all[1].key == "")
        #expect(all[1].value == [])
        await fixture.stop()
    }

    @Test(.enabled(if: KafkaFixture.isAvailable)) func uncommittedRecordsAreRedeliveredAfterRestart() async throws {
        let fixture = try await KafkaFixture.start()
        defer { fixture.stop() }
        try await fixture.bus.createTopic("runs.requests", partitions: 1)
        try await fixture.bus.publish((0..<6).map { OutgoingRecord(topic: "runs.requests", key: "dag", value: [UInt8($0)]) })

        let first = try await fixture.bus.subscribe(group: "scheduler", topics: ["runs.requests"])
        var handled: [BusRecord] = []
        for _ in 0..<5 { handled.append(try await nextRecord(first)) }
        #expect(handled.map(\.value) == (0..<5).map { [UInt8($0)] })
        try await first.commit(handled[2].position)  // 3 and 4 were handled but not committed
        await first.close()
        #expect(try await fixture.bus.committedOffsets(group: "scheduler", topic: "runs.requests") == [0: 3])
        #expect(try await fixture.bus.committedOffsets(group: "nobody", topic: "runs.requests") == [:])

        // A new process: a new client, same group.
        let restarted = try fixture.makeBus()
        let second = try await restarted.subscribe(group: "scheduler", topics: ["runs.requests"])
        let again = try await nextRecord(second)
        #expect(again.position.offset == 3)
        #expect(again.value == [3])
        await second.close()
        await restarted.close()
        await fixture.stop()
    }

    @Test(.enabled(if: KafkaFixture.isAvailable)) func seekByTimestampSkipsOlderRecords() async throws {
        let fixture = try await KafkaFixture.start()
        defer { fixture.stop() }
        let bus = fixture.bus
        try await bus.createTopic("schedule.ticks", partitions: 2)
        let base = Date(timeIntervalSince1970: 1_750_000_000)
        let records = (0..<10).map { i in
            OutgoingRecord(topic: "schedule.ticks", key: "dag-\(i % 2)", value: [UInt8(i)],
                           timestamp: base.addingTimeInterval(Double(i) * 60))
        }
        // One record per call: single-record batches keep Tansu's watermarks exact.
        for record in records { try await bus.publish(record) }
        let cut = base.addingTimeInterval(6 * 60)

        let consumer = try await bus.subscribe(group: "replayer", topics: ["schedule.ticks"])
        try await consumer.seek(.timestamp(cut))  // before assignment: applied when partitions arrive
        var seen: [UInt8] = []
        while seen.count < 4 { seen.append(try await nextRecord(consumer).value[0]) }
        #expect(Set(seen) == [6, 7, 8, 9])
        await consumer.close()

        let reader = try await bus.read(topic: "schedule.ticks", from: .timestamp(cut), to: .latest)
        #expect(Set(try await reader.readAll().map { $0.value[0] }) == [6, 7, 8, 9])
        let window = try await bus.read(topic: "schedule.ticks", from: .timestamp(base.addingTimeInterval(120)),
                                        to: .timestamp(base.addingTimeInterval(300)))
        #expect(Set(try await window.readAll().map { $0.value[0] }) == [2, 3, 4, 5])
        await fixture.stop()
    }

    @Test(.enabled(if: KafkaFixture.isAvailable)) func seekByOffsetBeginningAndEnd() async throws {
        let fixture = try await KafkaFixture.start()
        defer { fixture.stop() }
        let bus = fixture.bus
        try await bus.createTopic("deadletter", partitions: 1)
        for i in 0..<5 { try await bus.publish(OutgoingRecord(topic: "deadletter", key: nil, value: [UInt8(i)])) }
        let consumer = try await bus.subscribe(group: "ops", topics: ["deadletter"])
        #expect(try await nextRecord(consumer).value == [0])
        try await consumer.seek(.offset(partition: 0, offset: 3))
        #expect(try await nextRecord(consumer).value == [3])
        try await consumer.seek(.beginning)
        #expect(try await nextRecord(consumer).value == [0])
        try await consumer.seek(.end)
        try await bus.publish(OutgoingRecord(topic: "deadletter", key: nil, value: [42]))
        #expect(try await nextRecord(consumer).value == [42])
        await consumer.close()
        await fixture.stop()
    }

    @Test(.enabled(if: KafkaFixture.isAvailable)) func boundedReadStopsAtItsEnd() async throws {
        let fixture = try await KafkaFixture.start()
        defer { fixture.stop() }
        let bus = fixture.bus
        try await bus.createTopic("runs.events", partitions: 1)
        for i in 0..<6 { try await bus.publish(OutgoingRecord(topic: "runs.events", key: "r", value: [UInt8(i)])) }
        let reader = try await bus.read(topic: "runs.events", from: .offset(partition: 0, offset: 1),
                                        to: .offset(partition: 0, offset: 4))
        #expect(try await reader.readAll().map(\.value) == [[1], [2], [3]])
        // Records published after the reader opens are not part of its range.
        let open = try await bus.read(topic: "runs.events", from: .beginning, to: .latest)
        try await bus.publish(OutgoingRecord(topic: "runs.events", key: "r", value: [99]))
        #expect(try await open.readAll().count == 6)
        let empty = try await bus.read(topic: "runs.events", from: .end, to: .latest)
        #expect(try await empty.readAll().isEmpty)
        await #expect(throws: KafkaError.self) { try await bus.read(topic: "missing", from: .beginning, to: .latest) }
        await fixture.stop()
    }

    /// A full buffer first waits for the reader (records stay in librdkafka's queue); a reader that
    /// stalls past `pauseAfter` gets its partitions paused, and resumed once it catches up.
    @Test(.enabled(if: KafkaFixture.isAvailable)) func aFullBufferWaitsThenPausesWithoutLosingRecords() async throws {
        let fixture = try await KafkaFixture.start()
        defer { fixture.stop() }
        try await fixture.bus.createTopic("tasks.commands", partitions: 2)
        let count = 300
        try await fixture.bus.publish((0..<count).map {
            OutgoingRecord(topic: "tasks.commands", key: "k\($0 % 7)", value: Array("\($0)".utf8))
        })
        let small = try fixture.makeBus(consumerBufferCapacity: 8)
        let consumer = try await small.subscribe(group: "workers", topics: ["tasks.commands"])
        var seen: [RecordPosition: Int] = [:]
        while seen.count < count {
            let record = try await nextRecord(consumer)
            seen[record.position, default: 0] += 1
            if seen.count % 50 == 0 { try await Task.sleep(for: .milliseconds(50)) }  // a slow handler
            if seen.count == 120 { try await Task.sleep(for: KafkaConsumerLoop.pauseAfter * 3) }  // a stalled one
        }
        #expect(seen.values.allSatisfy { $0 == 1 })
        #expect(try #require(consumer as? KafkaGroupConsumer).fetchPauses >= 1)
        // One 300-record batch: the reader must find the true end even where the watermark lags it.
        let reader = try await small.read(topic: "tasks.commands", from: .beginning, to: .latest)
        #expect(Set(try await reader.readAll().map(\.position)) == Set(seen.keys))
        await consumer.close()
        await small.close()
        await fixture.stop()
    }
}

/// The next record, failing the test instead of hanging if none comes within `timeout`.
func nextRecord(_ consumer: any GroupConsumer, timeout: Duration = .seconds(90)) async throws -> BusRecord {
    try await withThrowingTaskGroup(of: BusRecord?.self) { group in
        group.addTask { try await consumer.next() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let record = first else { throw TestSupportError("no record within \(timeout)") }
        return record
    }
}
