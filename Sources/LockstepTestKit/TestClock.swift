import Foundation
import LockstepCore
import LockstepServices

/// A clock that moves only when a test moves it: give it to `Runtime(clock:)` (or `InProcessLockstep`)
/// and retries, attempt timeouts, claim renewals, timer firings and schedule ticks happen when the
/// test calls `advance`, without sleeping.
///
/// `sleep(until:)` returns at once when the clock is at or past the target; otherwise it waits until
/// an `advance` reaches it, and sleepers whose targets an advance passes are woken earliest first.
/// A cancelled sleeper stops waiting and throws `CancellationError`, whenever the cancel comes.
public final class TestClock: LockstepClock, @unchecked Sendable {
    // @unchecked: every stored property below is read and written only under `lock`.
    private let lock = NSLock()
    private var current: Date
    private var sleepers: [UInt64: Sleeper] = [:]
    private var nextID: UInt64 = 0

    private enum Sleeper {
        /// Has an id; its continuation is not installed yet.
        case starting
        /// Cancelled before its continuation was installed: it throws as soon as it is.
        case cancelled
        case waiting(until: Date, CheckedContinuation<Void, any Error>)
    }

    /// 2025-09-18T02:00:00Z, the seed's nightly training firing: a whole second, so times survive
    /// Kafka's millisecond timestamps exactly.
    public static let defaultStart = Date(timeIntervalSince1970: 1_758_160_800)

    public init(now: Date = TestClock.defaultStart) {
        current = now
    }

    public var now: Date { lock.withLock { current } }

    /// Targets of the sleeps waiting now, earliest first.
    public var pendingSleeps: [Date] {
        lock.withLock {
            sleepers.values.compactMap { if case .waiting(let until, _) = $0 { until } else { nil } }.sorted()
        }
    }

    public func sleep(until deadline: Date) async throws {
        let id: UInt64 = lock.withLock {
            nextID += 1
            sleepers[nextID] = .starting
            return nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready: Result<Void, any Error>? = lock.withLock {
                    // Due already: returns, cancelled or not, as the system clock's sleep does.
                    if current >= deadline {
                        sleepers[id] = nil
                        return .success(())
                    }
                    if case .cancelled = sleepers[id] {
                        sleepers[id] = nil
                        return .failure(CancellationError())
                    }
                    sleepers[id] = .waiting(until: deadline, continuation)
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            let waiting: CheckedContinuation<Void, any Error>? = lock.withLock {
                switch sleepers[id] {
                case .starting:
                    sleepers[id] = .cancelled
                    return nil
                case .waiting(_, let continuation):
                    sleepers[id] = nil
                    return continuation
                case .cancelled, nil:
                    return nil  // already cancelled, or already woken by an advance
                }
            }
            waiting?.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock forward by `duration` and wakes the sleepers it reaches.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "TestClock.advance(by:) moves forward only; got \(duration)")
        let target = now.addingTimeInterval(duration.timeInterval)
        advance(to: target)
    }

    /// Moves the clock to `date` (never backwards: an earlier date leaves it where it is) and wakes,
    /// earliest target first, the sleepers it reaches.
    public func advance(to date: Date) {
        let due: [CheckedContinuation<Void, any Error>] = lock.withLock {
            if date > current { current = date }
            var due: [(until: Date, id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
            for (id, sleeper) in sleepers {
                if case .waiting(let until, let continuation) = sleeper, until <= current { due.append((until, id, continuation)) }
            }
            due.sort { ($0.until, $0.id) < ($1.until, $1.id) }
            for sleeper in due { sleepers[sleeper.id] = nil }
            return due.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }
}
