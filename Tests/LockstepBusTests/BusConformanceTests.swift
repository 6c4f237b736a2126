import Foundation
import LockstepBus
import LockstepCore
import Testing

/// One set of test bodies, run unchanged over every transport: what any `EventBus` must do.
@Suite("Bus conformance")
struct BusConformanceTests {
    @Test("records with one key stay on one partition, in order", arguments: BusTransport.allCases)
    func perKeyOrdering(transport: BusTransport) async throws {
        try await transport.run { fixture in
            let bus = fixture.bus
            let topic = uniqueName("ordering")
            try await bus.createTopic(topic, partitions: 3)
            let keys = ["run-a", "run-b", "run-c", "run-d"]
            var published: [RecordPosition] = []
            var publishedKeys: [String] = []
            for round in 0..<5 {
                let batch = (0..<4).flatMap { i in keys.map { numberedEvent(round * 4 + i, topic: topic, key: $0) } }
                published += try await bus.publish(batch)
                publishedKeys += batch.map { $0.key ?? "" }
            }
            #expect(published.count == 80)
            let consumer = try await bus.subscribe(group: uniqueName("ordering"), topics: [topic])
            let records = try await take(80, from: consumer)
            await consumer.close()

            var partitionOfKey: [String: Int32] = [:]
            var seqsOfKey: [String: [Int]] = [:]
            for record in records {
                let key = try #require(record.key)
                if let earlier = partitionOfKey[key] { #expect(earlier == record.position.partition, "key \(key) moved") }
                partitionOfKey[key] = record.position.partition
                seqsOfKey[key, default: []].append(try seq(record))
            }
            for key in keys { #expect(seqsOfKey[key] == Array(0..<20), "order of \(key)") }
            // The positions publish returned name the partition each key was read from.
            for (position, key) in zip(published, publishedKeys) {
                #expect(position.partition == partitionOfKey[key], "published position of \(key)")
            }
        }
    }

    @Test("a new member resumes from the committed offset after one stopped without committing", arguments: BusTransport.allCases)
    func redeliveryFromCommittedOffset(transport: BusTransport) async throws {
        try await transport.run { fixture in
            let bus = fixture.bus
            let topic = uniqueName("redelivery")
            let group = uniqueName("redelivery")
            try await bus.createTopic(topic, partitions: 1)
            try await bus.publish((0..<10).map { numberedEvent($0, topic: topic, key: "k") })

            let first = try await bus.subscribe(group: group, topics: [topic])
            let seen = try await take(6, from: first)
            #expect(try seen.map(seq) == Array(0..<6))
            try await first.commit(seen[3].position)  // handled 0...3; 4 and 5 were read but not handled
            await first.close()
            #expect(try await bus.committedOffsets(group: group, topic: topic) == [0: 4])

            let second = try await bus.subscribe(group: group, topics: [topic])
            let rest = try await take(6, from: second)
            await second.close()
            #expect(try rest.map(seq) == Array(4..<10))
            #expect(rest.first?.position.offset == 4)
        }
    }

    @Test("a commit from another task lands while the reading loop waits for a record", arguments: BusTransport.allCases)
    func commitFromAnotherTask(transport: BusTransport) async throws {
        try await transport.run { fixture in
            let bus = fixture.bus
            let topic = uniqueName("background-commit")
            let group = uniqueName("background-commit")
            try await bus.createTopic(topic, partitions: 1)
            try await bus.publish((0..<3).map { numberedEvent($0, topic: topic, key: "k") })
            let consumer = try await bus.subscribe(group: group, topics: [topic])
            let seen = try await take(3, from: consumer)
            // The reading loop waits for a fourth record; the components' background committer
            // commits what the loop handled meanwhile.
            let waiting = Task { try await consumer.next() }
            try await Task { try await consumer.commit(seen[2].position) }.value
            #expect(try await bus.committedOffsets(group: group, topic: topic) == [0: 3])
            try await bus.publish(numberedEvent(3, topic: topic, key: "k"))
            let fourth = try await waiting.value
            #expect(try fourth.map(seq) == 3)
            await consumer.close()
        }
    }

    @Test("a rebalance loses nothing and repeats only what was not committed", arguments: BusTransport.allCases)
    func rebalanceBetweenMembers(transport: BusTransport) async throws {
        try await transport.run { fixture in
            let bus = fixture.bus
            let topic = uniqueName("rebalance")
            let group = uniqueName("rebalance")
            try await bus.createTopic(topic, partitions: 4)
            var published = 0
            func publishBatch(_ count: Int) async throws {
                try await bus.publish((published..<(published + count)).map { numberedEvent($0, topic: topic, key: "key-\($0 % 16)") })
                published += count
            }
            try await publishBatch(100)

            let tally = RebalanceTally()
            let memberA = try await bus.subscribe(group: group, topics: [topic])
            let loopA = Task { try await consumeAndCommit(memberA, as: .a, into: tally) }
            try await eventually("member A to consume 40 records") { await tally.count(.a) >= 40 }

            // B joins mid-stream: records keep arriving until the group has rebalanced and B gets some.
            let busB = try await fixture.makeBus()
            let memberB = try await busB.subscribe(group: group, topics: [topic])
            let loopB = Task { try await consumeAndCommit(memberB, as: .b, into: tally) }
            let joinDeadline = ContinuousClock.now + .seconds(60)
            while await tally.count(.b) == 0 {
                if ContinuousClock.now > joinDeadline { throw TimedOut(description: "B received nothing within 60 s of joining") }
                try await publishBatch(8)
                try await Task.sleep(for: .milliseconds(50))  // pacing the stream, not waiting for a condition
            }

            // A leaves mid-stream; B takes over A's partitions from their committed offsets.
            await memberA.close()
            _ = try await loopA.value
            try await publishBatch(40)
            let total = published
            try await eventually("all \(total) records to be consumed") { await tally.distinct.count == total }
            try await eventually("B to commit the end of every partition") {
                let committed = try await bus.committedOffsets(group: group, topic: topic)
                return committed.values.reduce(0, +) == Int64(total)
            }
            await memberB.close()
            _ = try await loopB.value

            #expect(await tally.distinct == Set(0..<total))
            #expect(await tally.count(.a) > 0)
            #expect(await tally.count(.b) > 0)
            // At-least-once, not more: nothing A committed is delivered again to B.
            let violations = await tally.redeliveredAfterCommit()
            #expect(violations.isEmpty, "B received records A had committed: \(violations.prefix(5))")
        }
    }

    @Test("seek to an offset and to a timestamp replays exactly the expected records", arguments: BusTransport.allCases)
    func seekToOffsetAndTimestamp(transport: BusTransport) async throws {
        try await transport.run { fixture in
            let bus = fixture.bus
            let topic = uniqueName("seek")
            try await bus.createTopic(topic, partitions: 1)
            try await bus.publish((0..<5).map { numberedEvent($0, topic: topic, key: "k") })
            let before = try await bus.read(topic: topic, from: .beginning, to: .latest).readAll()
            let lastBefore = try #require(before.map(\.timestamp).max())
            let cut = lastBefore.addingTimeInterval(0.001)
            try await waitForClock(toPass: cut)
            try await bus.publish((5..<10).map { numberedEvent($0, topic: topic, key: "k") })

            let consumer = try await bus.subscribe(group: uniqueName("seek"), topics: [topic])
            try await consumer.seek(.timestamp(cut))
            #expect(try await take(5, from: consumer).map(seq) == Array(5..<10))

            try await consumer.seek(.offset(partition: 0, offset: 2))
            #expect(try await take(8, from: consumer).map(seq) == Array(2..<10))

            try await consumer.seek(.beginning)
            #expect(try await take(1, from: consumer).map(seq) == [0])
            await consumer.close()

            let replay = try await bus.read(topic: topic, from: .timestamp(cut), to: .latest).readAll()
            #expect(try replay.map(seq) == Array(5..<10))
        }
    }

    @Test("keys, values and headers round-trip, CloudEvents included", arguments: BusTransport.allCases)
    func headersRoundTrip(transport: BusTransport) async throws {
        try await transport.run { fixture in
            let bus = fixture.bus
            let topic = uniqueName("headers")
            try await bus.createTopic(topic, partitions: 1)
            let raw = OutgoingRecord(
                topic: topic, key: "run-42", value: [0, 1, 2, 255],
                headers: [BusHeader("x-text", "héllo"), BusHeader("x-bytes", [0, 255, 7]), BusHeader("x-empty", [])])
            var event = CloudEvent(
                id: "evt-1", source: "/lockstep/tests", type: "io.lockstep.test.headers",
                time: Date(timeIntervalSince1970: 1_758_160_800.123456), subject: "run-42",
                data: ["dag": "training", "attempt": 2, "ok": true])
            event.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            event.extensions["tracestate"] = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
            event.replayof = "evt-0"
            try await bus.publish([raw, event.record(topic: topic, key: "run-42")])

            let records = try await bus.read(topic: topic, from: .beginning, to: .latest).readAll()
            try #require(records.count == 2)
            #expect(records[0].key == "run-42")
            #expect(records[0].value == [0, 1, 2, 255])
            #expect(records[0].headers == raw.headers)
            #expect(records[1].header("traceparent")?.stringValue == event.traceparent)
            #expect(records[1].header("ce_traceparent")?.stringValue == event.traceparent)
            #expect(records[1].header("ce_tracestate")?.stringValue == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
            #expect(try CloudEvent(records[1]) == event)
        }
    }

    @Test("a record that is not a CloudEvent is a typed error at its position; the consumer goes on", arguments: BusTransport.allCases)
    func garbageRecord(transport: BusTransport) async throws {
        try await transport.run { fixture in
            let bus = fixture.bus
            let topic = uniqueName("garbage")
            try await bus.createTopic(topic, partitions: 1)
            let positions = try await bus.publish([
                numberedEvent(0, topic: topic, key: "k"),
                OutgoingRecord(topic: topic, key: "k", value: Array("not an event".utf8)),
                numberedEvent(1, topic: topic, key: "k"),
            ])
            let consumer = try await bus.subscribe(group: uniqueName("garbage"), topics: [topic])
            let records = try await take(3, from: consumer, commit: true)
            await consumer.close()

            #expect(try seq(records[0]) == 0)
            #expect(throws: EventDecodingError.self) { try CloudEvent(records[1]) }
            do throws(EventDecodingError) {
                _ = try CloudEvent(records[1])
            } catch {
                #expect(error.position == positions[1])
                #expect(error.topic == topic && error.partition == positions[1].partition && error.offset == positions[1].offset)
                #expect(error.reason == .notACloudEvent(contentType: nil))
            }
            #expect(try seq(records[2]) == 1)
        }
    }

    @Test("read ranges by offset and by time", arguments: BusTransport.allCases)
    func readRanges(transport: BusTransport) async throws {
        try await transport.run { fixture in
            let bus = fixture.bus
            let topic = uniqueName("range")
            try await bus.createTopic(topic, partitions: 1)
            try await bus.publish((0..<5).map { numberedEvent($0, topic: topic, key: "k") })
            let first = try await bus.read(topic: topic, from: .beginning, to: .latest).readAll()
            let startOfSecond = try #require(first.map(\.timestamp).max()).addingTimeInterval(0.001)
            try await waitForClock(toPass: startOfSecond)
            try await bus.publish((5..<10).map { numberedEvent($0, topic: topic, key: "k") })
            let upToSecond = try await bus.read(topic: topic, from: .beginning, to: .latest).readAll()
            let endOfSecond = try #require(upToSecond.map(\.timestamp).max())
            try await waitForClock(toPass: endOfSecond.addingTimeInterval(0.002))
            try await bus.publish((10..<15).map { numberedEvent($0, topic: topic, key: "k") })

            let byOffset = try await bus.read(topic: topic, from: .offset(partition: 0, offset: 3), to: .offset(partition: 0, offset: 7))
            #expect(try await byOffset.readAll().map(seq) == [3, 4, 5, 6])

            let byTime = try await bus.read(topic: topic, from: .timestamp(startOfSecond), to: .timestamp(endOfSecond))
            #expect(try await byTime.readAll().map(seq) == Array(5..<10))

            // The end is the log's end when the reader opened: later records are not included.
            let everything = try await bus.read(topic: topic, from: .beginning, to: .latest)
            try await bus.publish(numberedEvent(15, topic: topic, key: "k"))
            #expect(try await everything.readAll().map(seq) == Array(0..<15))

            #expect(try await bus.read(topic: topic, from: .end, to: .latest).readAll().isEmpty)
        }
    }

    @Test("committed offsets are per group and per partition, the next offset to read", arguments: BusTransport.allCases)
    func committedOffsets(transport: BusTransport) async throws {
        try await transport.run { fixture in
            let bus = fixture.bus
            let topic = uniqueName("committed")
            let group = uniqueName("committed")
            try await bus.createTopic(topic, partitions: 2)
            let positions = try await bus.publish((0..<12).map { numberedEvent($0, topic: topic, key: "key-\($0 % 4)") })
            let usedPartitions = Set(positions.map(\.partition))
            #expect(try await bus.committedOffsets(group: group, topic: topic).isEmpty)

            let consumer = try await bus.subscribe(group: group, topics: [topic])
            let records = try await take(12, from: consumer)
            var last: [Int32: RecordPosition] = [:]
            for record in records { last[record.position.partition] = record.position }
            for position in last.values { try await consumer.commit(position) }
            await consumer.close()

            let committed = try await bus.committedOffsets(group: group, topic: topic)
            #expect(Set(committed.keys) == usedPartitions)
            for (partition, position) in last { #expect(committed[partition] == position.offset + 1) }
            #expect(try await bus.committedOffsets(group: uniqueName("other"), topic: topic).isEmpty)
        }
    }
}

// MARK: Rebalance bookkeeping

enum Member: Sendable { case a, b }

/// What each member of the rebalance test received and which of its commits succeeded.
actor RebalanceTally {
    private var received: [Member: [RecordPosition]] = [:]
    private var seqs: Set<Int> = []
    private var committedByA: [RecordPosition] = []

    func record(_ position: RecordPosition, seq: Int, by member: Member) {
        received[member, default: []].append(position)
        seqs.insert(seq)
    }

    func committed(_ position: RecordPosition, by member: Member) {
        if member == .a { committedByA.append(position) }
    }

    func count(_ member: Member) -> Int { received[member]?.count ?? 0 }
    var distinct: Set<Int> { seqs }

    /// Records B received at or below an offset that A had committed on the same partition.
    func redeliveredAfterCommit() -> [RecordPosition] {
        var highestCommitted: [Int32: Int64] = [:]
        for position in committedByA { highestCommitted[position.partition] = max(highestCommitted[position.partition] ?? -1, position.offset) }
        return (received[.b] ?? []).filter { $0.offset <= highestCommitted[$0.partition] ?? -1 }
    }
}

/// A member's loop: handle (tally) each record, then commit it. A commit refused because a rebalance
/// moved the partition is expected: the record is someone else's now.
private func consumeAndCommit(_ consumer: any GroupConsumer, as member: Member, into tally: RebalanceTally) async throws {
    while let record = try await consumer.next() {
        await tally.record(record.position, seq: try seq(record), by: member)
        do {
            try await consumer.commit(record.position)
            await tally.committed(record.position, by: member)
        } catch {
            continue
        }
    }
}
