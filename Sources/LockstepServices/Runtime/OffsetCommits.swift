import Foundation
import LockstepBus

/// A consumer's offsets committed in the background, at most `interval` after their records were
/// handled, instead of one commit per record. A commit is a durable write of its own (an fsync on
/// the embedded log, a broker round trip on Kafka) on the critical path of every record; committing
/// later costs only redeliveries after a crash, which change nothing: every handler is idempotent
/// (the coordinator's engine ignores what it has seen; a worker answers a finished attempt with its
/// recorded result).
final class OffsetCommits: @unchecked Sendable {
    // @unchecked: `pending` is only touched with `lock` held; `signal` is itself safe to share.
    private let lock = NSLock()
    /// The last handled position of each partition: committing it covers the earlier ones.
    private var pending: [Partition: RecordPosition] = [:]
    private struct Partition: Hashable {
        let topic: String
        let partition: Int32
    }
    /// Wakes the flusher when the first position arrives after a flush; idle consumers never wake it.
    private let signal: AsyncStream<Void>.Continuation
    private let signals: AsyncStream<Void>

    init() {
        (signals, signal) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// `position`'s record is handled: its effects are stored or published.
    func handled(_ position: RecordPosition) {
        let first = lock.withLock {
            let first = pending.isEmpty
            pending[Partition(topic: position.topic, partition: position.partition)] = position
            return first
        }
        if first { signal.yield() }
    }

    fileprivate func take() -> [RecordPosition] {
        lock.withLock {
            defer { pending = [:] }
            return Array(pending.values)
        }
    }

    /// Commits what arrives, `interval` after the first position of each round, until cancelled.
    fileprivate func flush(on consumer: any GroupConsumer, every interval: Duration, runtime: Runtime) async {
        for await _ in signals {
            try? await Task.sleep(for: interval)
            for position in take() { await runtime.commit(position, on: consumer) }
            if Task.isCancelled { return }
        }
    }

    fileprivate func finish() { signal.finish() }
}

extension Runtime {
    /// Runs `body` (a consumer's loop) with its handled offsets committed in the background every
    /// `interval` (real time: it paces writes, no outcome depends on it). However `body` ends —
    /// returning, cancelled or failing — what it handled is committed before this returns, and
    /// nothing it did not: a record is marked handled only once its effects are stored.
    func committingInBackground<T>(
        on consumer: any GroupConsumer, every interval: Duration, _ body: (OffsetCommits) async throws -> T
    ) async throws -> T {
        let commits = OffsetCommits()
        let flusher = Task { await commits.flush(on: consumer, every: interval, runtime: self) }
        let outcome: Result<T, any Error>
        do { outcome = .success(try await body(commits)) } catch { outcome = .failure(error) }
        commits.finish()
        flusher.cancel()
        await flusher.value
        for position in commits.take() { await commit(position, on: consumer) }
        return try outcome.get()
    }
}
