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
    private var pending: [String: RecordPosition] = [:]
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
            pending["\(position.topic)/\(position.partition)"] = position
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
    /// `interval` (real time: it paces writes, no outcome depends on it). When `body` returns or is
    /// cancelled, what is left is committed; when it fails, nothing more is (the consumer is to be
    /// closed and its records handed to whoever takes over, which handles them again harmlessly).
    func committingInBackground<T>(
        on consumer: any GroupConsumer, every interval: Duration, _ body: (OffsetCommits) async throws -> T
    ) async throws -> T {
        let commits = OffsetCommits()
        let flusher = Task { await commits.flush(on: consumer, every: interval, runtime: self) }
        func stopFlusher() async {
            commits.finish()
            flusher.cancel()
            await flusher.value
        }
        do {
            let value = try await body(commits)
            await stopFlusher()
            for position in commits.take() { await commit(position, on: consumer) }
            return value
        } catch {
            await stopFlusher()
            if error is CancellationError {
                for position in commits.take() { await commit(position, on: consumer) }
            }
            throw error
        }
    }
}
