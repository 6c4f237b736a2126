import Foundation
import LockstepBus
import LockstepCore
import LockstepWire

/// Recomputes the run state from the topics the coordinator consumes, for a lost or damaged store.
/// The same log gives the same state, so rebuilding twice gives identical state. Run it with the
/// coordinator stopped.
public struct Rebuild: Sendable {
    public let runtime: Runtime
    /// How many records are read (and then decoded) at a time.
    public let chunkSize: Int

    public init(runtime: Runtime, chunkSize: Int = 16_384) {
        self.runtime = runtime
        self.chunkSize = max(1, chunkSize)
    }

    /// Every engine input on the coordinator's topics, in a deterministic order: record time, then
    /// topic, partition and offset.
    ///
    /// Read a chunk at a time, each chunk decoded while the next is read: a log's records are not held
    /// all at once (a million of them, each with its headers, took gigabytes and most of a cold
    /// rebuild's time in fresh memory), only the inputs decoded from them.
    public func inputs() async throws -> [(EngineEvent, Date)] {
        var collected: [Input] = []
        for (index, topic) in runtime.topics.coordinatorInputs.enumerated() {
            let reader = try await runtime.bus.read(topic: topic, from: .beginning, to: .latest)
            var chunk = try await Self.chunk(of: reader, size: chunkSize)
            while !chunk.isEmpty {
                async let following = Self.chunk(of: reader, size: chunkSize)
                collected += await Self.decode(chunk, topic: index)
                chunk = try await following
            }
            await reader.close()
        }
        collected.sort { ($0.time, $0.order.0, $0.order.1, $0.order.2) < ($1.time, $1.order.0, $1.order.1, $1.order.2) }
        return collected.map { ($0.event, $0.time) }
    }

    /// The reader's next records, up to `size`; empty at the end of the range.
    static func chunk(of reader: any TopicReader, size: Int) async throws -> [BusRecord] {
        var records: [BusRecord] = []
        records.reserveCapacity(size)
        while records.count < size, let record = try await reader.next() { records.append(record) }
        return records
    }

    struct Input: Sendable {
        let event: EngineEvent
        let time: Date
        let order: (topic: Int, partition: Int32, offset: Int64)
    }

    /// The records' engine inputs, decoded in one slice per core: decoding (headers, then JSON, then
    /// the wire fields) is most of the reading, and records do not depend on one another. Records
    /// that are not engine inputs, or not valid, are left out as the coordinator leaves them.
    static func decode(_ records: [BusRecord], topic: Int) async -> [Input] {
        let slices = max(1, min(ProcessInfo.processInfo.activeProcessorCount, records.count / 1_000))
        let size = (records.count + slices - 1) / slices
        return await withTaskGroup(of: (Int, [Input]).self) { group in
            for slice in 0..<slices {
                let range = (slice * size)..<min(records.count, (slice + 1) * size)
                group.addTask {
                    (slice, records[range].compactMap { record in
                        guard let cloudEvent = try? CloudEvent(record), let event = try? WireCodec.decodeEngineEvent(cloudEvent) else { return nil }
                        return Input(event: event, time: record.timestamp, order: (topic, record.position.partition, record.position.offset))
                    })
                }
            }
            var decoded = [[Input]](repeating: [], count: slices)
            for await (slice, inputs) in group { decoded[slice] = inputs }
            return decoded.flatMap { $0 }
        }
    }

    /// What the inputs lead to: the runs (finished ones handed over as they finish, so the replay's
    /// tables stay the size of the runs in flight) and the armed timers.
    public func replay() async throws -> ReplayOutcome {
        Engine(dags: runtime.dags, config: runtime.config).replay(try await inputs())
    }

    /// What a rebuild did, and how long each part took.
    public struct Summary: Sendable {
        /// Runs written to the store, finished or not.
        public var runs: Int
        /// Engine inputs read (repeated requests included).
        public var events: Int
        /// Reading, decoding and ordering the inputs.
        public var read: Duration
        /// The replay through the engine; the store was writing meanwhile.
        public var replay: Duration
        /// From the end of the read until the store's transaction committed: the replay and the
        /// writing it overlaps, plus the writing still left when the replay ended.
        public var replayAndWrite: Duration
    }

    /// Replaces the store's engine state with the rebuilt one. The store writes the finished runs
    /// while the replay goes on (`RunHandOver`): replay and writing each took about half of a
    /// rebuild's time after the read, one after the other on a two-core machine.
    @discardableResult
    public func run() async throws -> Summary {
        let clock = ContinuousClock()
        let started = clock.now
        let inputs = try await inputs()
        let read = clock.now
        let handOver = RunHandOver()
        async let written = runtime.store.replaceEngine(from: handOver)
        let outcome = Engine(dags: runtime.dags, config: runtime.config).replay(inputs) { handOver.push(.finished($0)) }
        handOver.push(.end(outcome.state, outcome.timers))
        let replayed = clock.now
        let runs = try await written
        return Summary(runs: runs, events: outcome.events, read: read - started, replay: replayed - read, replayAndWrite: clock.now - read)
    }
}
