import Foundation
import LockstepBus
import LockstepCore
import LockstepWire

/// Recomputes the run state from the topics the coordinator consumes, for a lost or damaged store.
/// The same log gives the same state, so rebuilding twice gives identical state. Run it with the
/// coordinator stopped.
public struct Rebuild: Sendable {
    public let runtime: Runtime
    /// How many records are read (and then decoded) at a time, per topic.
    public let chunkSize: Int
    /// How many inputs a streamed read holds back to put records a little out of time order back in
    /// order (`RebuildInputStream`).
    public let reorderWindow: Int

    public init(runtime: Runtime, chunkSize: Int = 16_384, reorderWindow: Int = 4_096) {
        self.runtime = runtime
        self.chunkSize = max(1, chunkSize)
        self.reorderWindow = max(1, reorderWindow)
    }

    /// Every engine input on the coordinator's topics, in rebuild order (record time, then topic,
    /// partition and offset), read whole and sorted.
    ///
    /// Read a chunk at a time, each chunk decoded while the next is read: a log's records are not held
    /// all at once (a million of them, each with its headers, took gigabytes and most of a cold
    /// rebuild's time in fresh memory), only the inputs decoded from them.
    public func inputs() async throws -> [(EngineEvent, Date)] {
        var collected: [RebuildInput] = []
        for (index, topic) in runtime.topics.coordinatorInputs.enumerated() {
            let reader = try await runtime.bus.read(topic: topic, from: .beginning, to: .latest)
            var chunk = try await RebuildInput.chunk(of: reader, size: chunkSize)
            while !chunk.isEmpty {
                async let following = RebuildInput.chunk(of: reader, size: chunkSize)
                collected += await RebuildInput.decode(chunk, topic: index)
                chunk = try await following
            }
            await reader.close()
        }
        collected.sort { $0.key.precedes($1.key) }
        return collected.map { ($0.event, $0.time) }
    }

    /// What the inputs lead to: the runs (finished ones handed over as they finish, so the replay's
    /// tables stay the size of the runs in flight) and the armed timers.
    public func replay() async throws -> ReplayOutcome {
        Engine(dags: runtime.dags, config: runtime.config).replay(try await inputs())
    }

    /// What a rebuild did, and when each part ended, counted from its start.
    public struct Summary: Sendable {
        /// Runs written to the store, finished or not.
        public var runs: Int
        /// Engine inputs read (repeated requests included).
        public var events: Int
        /// Nil when the records came in time order and the replay went on while they were read;
        /// otherwise the record that was out of order, after which the log was read again whole and
        /// sorted before the replay.
        public var sortedBecause: String?
        /// Until the last input was read and decoded.
        public var read: Duration
        /// Until the replay through the engine ended; the store was writing meanwhile.
        public var replayed: Duration
        /// Until the store's transaction committed.
        public var committed: Duration
    }

    /// Replaces the store's engine state with the rebuilt one.
    ///
    /// Three things go on at once: reading and decoding the topics (`RebuildInputStream`, merged in
    /// time order), the replay of each batch as it arrives, and the store writing the runs the replay
    /// finished with (`RunHandOver`). One after the other they took the read, then the replay, then
    /// the write; on a two-core machine they now share both cores. If a record turns up earlier than
    /// one already replayed, the partial replay is abandoned (the store writes nothing of it) and the
    /// log is read again whole and sorted.
    @discardableResult
    public func run() async throws -> Summary {
        let clock = ContinuousClock()
        let started = clock.now
        do {
            return try await streamed(clock: clock, started: started)
        } catch let disorder as RebuildInputStream.OutOfOrder {
            return try await sorted(clock: clock, started: started, because: disorder.description)
        }
    }

    private func streamed(clock: ContinuousClock, started: ContinuousClock.Instant) async throws -> Summary {
        let stream = try await RebuildInputStream(
            bus: runtime.bus, topics: runtime.topics.coordinatorInputs, chunkSize: chunkSize, window: reorderWindow)
        let handOver = RunHandOver()
        async let written = runtime.store.replaceEngine(from: handOver)
        var replay = EngineReplay(engine: Engine(dags: runtime.dags, config: runtime.config)) { handOver.push(.finished($0)) }
        let read: ContinuousClock.Instant
        do {
            var batch = try await stream.next(limit: chunkSize)
            while !batch.isEmpty {
                async let following = stream.next(limit: chunkSize)
                replay.apply(batch.lazy.map { ($0.event, $0.time) })
                batch = try await following
            }
            read = clock.now
        } catch {
            // The store's thread waits on the hand-over: tell it to write nothing before leaving.
            handOver.push(.abandoned)
            _ = try? await written
            await stream.close()
            throw error
        }
        await stream.close()
        let outcome = replay.finish()
        handOver.push(.end(outcome.state, outcome.timers))
        let replayed = clock.now
        let runs = try await written
        return Summary(runs: runs, events: outcome.events, sortedBecause: nil,
                       read: read - started, replayed: replayed - started, committed: clock.now - started)
    }

    private func sorted(clock: ContinuousClock, started: ContinuousClock.Instant, because reason: String) async throws -> Summary {
        let inputs = try await inputs()
        let read = clock.now
        let handOver = RunHandOver()
        async let written = runtime.store.replaceEngine(from: handOver)
        let outcome = Engine(dags: runtime.dags, config: runtime.config).replay(inputs) { handOver.push(.finished($0)) }
        handOver.push(.end(outcome.state, outcome.timers))
        let replayed = clock.now
        let runs = try await written
        return Summary(runs: runs, events: outcome.events, sortedBecause: reason,
                       read: read - started, replayed: replayed - started, committed: clock.now - started)
    }
}
