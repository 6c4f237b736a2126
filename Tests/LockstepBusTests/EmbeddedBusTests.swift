import Foundation
@testable import LockstepBus
import LockstepCore
import LockstepTestSupport
import Testing

/// What only the embedded log promises: crash safety, other processes on the same file, retention.
@Suite("Embedded bus")
struct EmbeddedBusTests {
    @Test("every acknowledged record survives kill -9 of the publishing process")
    func ackedRecordsSurviveKill9() async throws {
        let directory = try TestPaths.temporaryDirectory("lockstep-crash")
        defer { try? FileManager.default.removeItem(at: directory) }
        let topic = "crash"
        let child = try ManagedProcess(
            name: "events-publish", executable: TestPaths.lockstepExecutable.path,
            arguments: ["events", "publish", "--data-dir", directory.path, "--topic", topic, "--count", "10000000",
                        "--key", "run-1", "--batch", "3"])
        try await eventually("the publisher to acknowledge 150 records") {
            if !child.isRunning { throw TestSupportError("publisher exited early:\n\(child.log)") }
            return Self.acks(in: child.log).count >= 150
        }
        child.kill9()
        #expect(child.process.terminationReason == .uncaughtSignal)
        let acked = Self.acks(in: child.log)

        let bus = try EmbeddedBus(directory: directory)
        let records = try await bus.read(topic: topic, from: .beginning, to: .latest).readAll()
        await bus.close()
        let byPosition = Dictionary(uniqueKeysWithValues: records.map { ($0.position, $0) })
        #expect(records.count >= acked.count)
        for (index, position) in acked.enumerated() {
            let record = try #require(byPosition[position], "acked \(position) is missing after kill -9")
            #expect(try seq(record) == index)
            #expect(record.key == "run-1")
        }
    }

    /// `acked <partition> <offset>` lines, complete ones only (the last may have been cut by the kill).
    static func acks(in output: String) -> [RecordPosition] {
        output.split(separator: "\n", omittingEmptySubsequences: true).dropLast(output.hasSuffix("\n") ? 0 : 1)
            .compactMap { line in
                let parts = line.split(separator: " ")
                guard parts.count == 3, parts[0] == "acked", let p = Int32(parts[1]), let o = Int64(parts[2]) else { return nil }
                return RecordPosition(topic: "crash", partition: p, offset: o)
            }
    }

    /// A log whose poll for other processes' appends is an hour away: only a wake-up delivers in time.
    static func fixtureWithoutThePoll() throws -> EmbeddedBusFixture {
        var configuration = EmbeddedBusConfiguration()
        configuration.foreignWritePollInterval = .seconds(3600)
        return try EmbeddedBusFixture(configuration: configuration)
    }

    /// `lockstep events publish`: numbered records appended by another process.
    static func publishFromAnotherProcess(_ count: Int, to topic: String, in fixture: EmbeddedBusFixture) throws -> ManagedProcess {
        try ManagedProcess(
            name: "events-publish", executable: TestPaths.lockstepExecutable.path,
            arguments: ["events", "publish", "--data-dir", fixture.directory.path, "--topic", topic, "--count", "\(count)"])
    }

    @Test("a consumer picks up records another process appends to the same file")
    func recordsFromAnotherProcess() async throws {
        let fixture = try EmbeddedBusFixture()
        let topic = uniqueName("foreign")
        let consumer = try await fixture.bus.subscribe(group: uniqueName("foreign"), topics: [topic])
        let child = try Self.publishFromAnotherProcess(3, to: topic, in: fixture)
        let records = try await take(3, from: consumer)
        child.stop()
        await consumer.close()
        await fixture.stop()
        #expect(try records.map(seq) == [0, 1, 2])
    }

    #if os(Linux)
    /// The poll is an hour away: only the file watcher (inotify on the log's write-ahead file) can wake
    /// the consumer for another process's appends.
    @Test("another process's appends wake a waiting consumer without the poll (Linux)")
    func foreignWakeUpWithoutThePoll() async throws {
        let fixture = try Self.fixtureWithoutThePoll()
        let topic = uniqueName("foreign-wake")
        let consumer = try await fixture.bus.subscribe(group: uniqueName("foreign-wake"), topics: [topic])
        let waiting = Task { try await take(3, from: consumer, timeout: .seconds(60)) }
        let child = try Self.publishFromAnotherProcess(3, to: topic, in: fixture)
        let records = try await waiting.value
        child.stop()
        await consumer.close()
        await fixture.stop()
        #expect(try records.map(seq) == [0, 1, 2])
    }
    #endif

    @Test("a publish in this process wakes a waiting consumer without the poll")
    func inProcessWakeUp() async throws {
        let fixture = try Self.fixtureWithoutThePoll()
        let topic = uniqueName("wake")
        let consumer = try await fixture.bus.subscribe(group: uniqueName("wake"), topics: [topic])
        let waiting = Task { try await take(1, from: consumer) }
        try await fixture.bus.publish(numberedEvent(7, topic: topic, key: nil))
        let records = try await waiting.value
        await fixture.stop()
        #expect(try records.map(seq) == [7])
    }

    @Test("a consumer that sought to the end sees what is published afterwards (no stale read snapshot)")
    func seekToEndThenPublish() async throws {
        let fixture = try EmbeddedBusFixture()
        let topic = uniqueName("end")
        try await fixture.bus.publish((0..<3).map { numberedEvent($0, topic: topic, key: "k") })
        let consumer = try await fixture.bus.subscribe(group: uniqueName("end"), topics: [topic])
        try await consumer.seek(.end)
        try await consumer.seek(.timestamp(Date()))
        try await fixture.bus.publish(numberedEvent(3, topic: topic, key: "k"))
        let records = try await take(1, from: consumer, timeout: .seconds(30))
        await fixture.stop()
        #expect(try records.map(seq) == [3])
    }

    @Test("`lockstep events tail` prints the events of a topic")
    func tailCommand() async throws {
        let fixture = try EmbeddedBusFixture()
        let topic = uniqueName("tail")
        try await fixture.bus.publish((0..<3).map { numberedEvent($0, topic: topic, key: "k") })
        try await fixture.bus.publish(OutgoingRecord(topic: topic, key: "k", value: Array("junk".utf8)))
        let child = try ManagedProcess(
            name: "events-tail", executable: TestPaths.lockstepExecutable.path,
            arguments: ["events", "tail", "--data-dir", fixture.directory.path, "--topic", topic, "--from-beginning",
                        "--max", "4"])
        try await eventually("tail to print 4 records and exit") { !child.isRunning }
        await fixture.stop()
        let lines = child.log.split(separator: "\n").filter { $0.hasPrefix("0 ") }
        #expect(lines.count == 4, "\(child.log)")
        #expect(lines.first?.contains("io.lockstep.test.numbered \(topic)-0 {\"key\":\"k\",\"seq\":0}") == true)
        #expect(lines.last?.contains("0 3 undecodable: not a CloudEvent") == true)
    }

    @Test("records and committed offsets are still there after the log is closed and reopened")
    func reopen() async throws {
        let directory = try TestPaths.temporaryDirectory("lockstep-reopen")
        defer { try? FileManager.default.removeItem(at: directory) }
        let topic = "reopen"
        do {
            let bus = try EmbeddedBus(directory: directory)
            try await bus.createTopic(topic, partitions: 2)
            try await bus.publish((0..<6).map { numberedEvent($0, topic: topic, key: "k\($0)") })
            let consumer = try await bus.subscribe(group: "g", topics: [topic])
            let first = try await take(1, from: consumer)
            try await consumer.commit(first[0].position)
            await bus.close()
            await #expect(throws: EmbeddedBusError.self) { try await bus.publish(numberedEvent(9, topic: topic, key: nil)) }
        }
        let bus = try EmbeddedBus(directory: directory)
        #expect(try await bus.listTopics() == [TopicInfo(name: topic, partitions: 2)])
        #expect(try await bus.read(topic: topic, from: .beginning, to: .latest).readAll().count == 6)
        #expect(try await bus.committedOffsets(group: "g", topic: topic).values.sorted() == [1])
        await bus.close()
    }

    @Test("retention deletes by count per partition and by age; offsets are never reused")
    func retention() async throws {
        var configuration = EmbeddedBusConfiguration()
        configuration.retentionInterval = nil
        configuration.retention = EmbeddedRetentionPolicy(maxAge: .seconds(3600))
        configuration.topicRetention["keep3"] = EmbeddedRetentionPolicy(maxRecordsPerPartition: 3)
        let fixture = try EmbeddedBusFixture(configuration: configuration)
        let bus = fixture.embedded
        try await bus.publish((0..<10).map { numberedEvent($0, topic: "keep3", key: "k") })
        let now = Date()
        var old = numberedEvent(0, topic: "aged", key: "k")
        old.timestamp = now.addingTimeInterval(-7200)
        var recent = numberedEvent(1, topic: "aged", key: "k")
        recent.timestamp = now.addingTimeInterval(-60)
        try await bus.publish([old, recent])

        #expect(try await bus.applyRetention(now: now) == 8)
        let kept = try await bus.read(topic: "keep3", from: .beginning, to: .latest).readAll()
        #expect(kept.map(\.position.offset) == [7, 8, 9])
        #expect(try await bus.read(topic: "aged", from: .beginning, to: .latest).readAll().map(seq) == [1])
        #expect(try await bus.publish(numberedEvent(10, topic: "keep3", key: "k")).offset == 10)

        // A new group starts at the earliest record kept.
        let consumer = try await bus.subscribe(group: uniqueName("late"), topics: ["keep3"])
        #expect(try await take(4, from: consumer).map(\.position.offset) == [7, 8, 9, 10])
        await fixture.stop()
    }

    @Test("murmur2 matches Kafka's, so a key picks the same partition number on both transports")
    func murmur2Vectors() {
        let vectors: [(String, UInt32)] = [
            ("kafka", 0xd067_cf64), ("giberish123456789", 0x8f55_2b0c), ("1234", 0x9fc9_7b14), ("234", 0xe7c0_09ca),
            ("34", 0x8739_30da), ("4", 0x5a4b_5ca1), ("PreAmbleWillBeRemoved,ThePrePartThatIs", 0x7842_4f1c), ("", 0x106e_08d9),
        ]
        for (key, hash) in vectors { #expect(EmbeddedPartitioner.murmur2(Array(key.utf8)) == hash, "\(key)") }
        #expect(EmbeddedPartitioner.partition(forKey: "kafka", partitions: 10) == 0)
    }

    @Test("partitions are shared round-robin among the members subscribed to each topic")
    func groupAssignment() {
        let members = [EmbeddedGroupAssignment.Member(id: 1, topics: ["a", "b"]), .init(id: 2, topics: ["a"])]
        let assignment = EmbeddedGroupAssignment.assign(members, partitions: ["a": 4, "b": 2])
        let a = { (p: Int32) in TopicPartition(topic: "a", partition: p) }
        let b = { (p: Int32) in TopicPartition(topic: "b", partition: p) }
        #expect(assignment[1] == [a(0), a(2), b(0), b(1)])
        #expect(assignment[2] == [a(1), a(3)])
        #expect(EmbeddedGroupAssignment.assign([], partitions: ["a": 4]).isEmpty)
    }

    @Test("headers survive storage byte for byte")
    func headerCoding() {
        let headers = [BusHeader("a", "1"), BusHeader("a", "2"), BusHeader("bin", [0, 255]), BusHeader("", [])]
        #expect(EmbeddedHeaderCoding.decode(EmbeddedHeaderCoding.encode(headers)) == headers)
        #expect(EmbeddedHeaderCoding.decode([]) == [])
    }
}
