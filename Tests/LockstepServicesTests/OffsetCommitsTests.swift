import Foundation
import LockstepBus
import LockstepCore
@testable import LockstepServices
import LockstepTestKit
import Testing

/// Offsets committed in the background: what was handled is committed without another record
/// arriving, nothing unhandled is, and a loop that fails leaves only what it did not handle to
/// whoever takes over.
@Suite struct OffsetCommitsTests {
    let topic = "offsets.test"
    let group = "offsets-test"

    func published(_ count: Int, on system: InProcessLockstep) async throws {
        try await system.runtime.bus.createTopic(topic, partitions: 1)
        for i in 0..<count {
            let event = system.runtime.event(id: "e\(i)", component: "test", type: "test.event", data: ["i": .int(Int64(i))])
            try await system.runtime.publish(event, to: topic, key: "k")
        }
    }

    func committed(_ system: InProcessLockstep) async throws -> Int64? {
        try await system.runtime.bus.committedOffsets(group: group, topic: topic)[0]
    }

    @Test func handledOffsetsAreCommittedWhileTheLoopWaitsAndTheRestWhenItReturns() async throws {
        let system = try await InProcessLockstep(dags: [])
        defer { Task { await system.close() } }
        try await published(5, on: system)
        let consumer = try await system.runtime.bus.subscribe(group: group, topics: [topic])
        try await system.runtime.committingInBackground(on: consumer, every: .milliseconds(20)) { commits in
            for _ in 0..<3 {
                guard let record = try await consumer.next() else { throw TestFailure("the topic ended early") }
                commits.handled(record.position)
            }
            // No further record arrives while the loop waits here: the flusher commits on its own.
            try await poll("the three handled records to be committed") { try await committed(system) == 3 }
            // Read, not handled: never committed.
            guard try await consumer.next() != nil else { throw TestFailure("the topic ended early") }
            guard let fifth = try await consumer.next() else { throw TestFailure("the topic ended early") }
            commits.handled(fifth.position)
        }
        // Returned: what was left is committed at once.
        #expect(try await committed(system) == 5)
        await consumer.close()
    }

    @Test func aLoopThatFailsStillCommitsWhatItHandledAndNothingElse() async throws {
        let system = try await InProcessLockstep(dags: [])
        defer { Task { await system.close() } }
        try await published(3, on: system)
        let consumer = try await system.runtime.bus.subscribe(group: group, topics: [topic])
        struct StoreAway: Error {}
        await #expect(throws: StoreAway.self) {
            // An interval no test waits out: only the end of the loop commits.
            try await system.runtime.committingInBackground(on: consumer, every: .seconds(3600)) { commits in
                guard let first = try await consumer.next() else { throw TestFailure("the topic ended early") }
                commits.handled(first.position)
                _ = try await consumer.next()  // read, then the store fails before its effect is stored
                throw StoreAway()
            }
        }
        #expect(try await committed(system) == 1)
        await consumer.close()
    }
}
