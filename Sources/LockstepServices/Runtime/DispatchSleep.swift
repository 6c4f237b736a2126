import Dispatch
import Foundation
import Synchronization

/// A sleep whose cancellation frees it at once. On Linux, `Task.sleep` leaves a cancelled sleep's
/// Dispatch timer, and the task it holds, in the timer heap until the original deadline: every
/// attempt's timeout watchdog (an hour by default, cancelled when the attempt ends milliseconds
/// later) kept about 0.7 KB for that hour, so a busy worker's memory grew with its rate of attempts
/// (found by `lockstep-bench memory` and heaptrack). A Dispatch timer source is cancelled for real.
enum DispatchSleep {
    private static let waiting = Mutex(0)

    /// Sleeps started and not yet ended (fired or cancelled), in this process.
    static var pending: Int { waiting.withLock { $0 } }

    static func sleep(seconds: Double) async throws {
        let sleeper = Sleeper()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                sleeper.start(continuation, seconds: seconds)
            }
        } onCancel: {
            sleeper.cancel()
        }
    }

    /// One sleep's timer and continuation; whichever of firing and cancelling comes first resumes it.
    private final class Sleeper: @unchecked Sendable {
        // @unchecked: `state` is read and written only with `lock` held; the timer source is
        // thread-safe itself.
        private let lock = NSLock()
        private var state = State.idle

        private enum State {
            case idle
            case waiting(CheckedContinuation<Void, any Error>, DispatchSourceTimer)
            case cancelled
            case done
        }

        func start(_ continuation: CheckedContinuation<Void, any Error>, seconds: Double) {
            // The timer is made, armed and resumed under the lock: a cancel can then only meet a
            // running source (Dispatch traps when a never-resumed one is released).
            let started: Bool = lock.withLock {
                guard case .idle = state else { return false }  // cancelled before it started
                let timer = DispatchSource.makeTimerSource(queue: .global())
                timer.schedule(deadline: .now() + seconds, leeway: .milliseconds(1))
                timer.setEventHandler { [self] in finish(throwing: nil) }
                state = .waiting(continuation, timer)
                DispatchSleep.waiting.withLock { $0 += 1 }
                timer.resume()
                return true
            }
            guard started else {
                continuation.resume(throwing: CancellationError())
                return
            }
        }

        func cancel() { finish(throwing: CancellationError()) }

        private func finish(throwing error: (any Error)?) {
            let taken: (CheckedContinuation<Void, any Error>, DispatchSourceTimer)? = lock.withLock {
                switch state {
                case .idle:
                    state = .cancelled
                    return nil
                case .waiting(let continuation, let timer):
                    state = .done
                    return (continuation, timer)
                case .cancelled, .done:
                    return nil
                }
            }
            guard let (continuation, timer) = taken else { return }
            timer.cancel()  // frees the handler (and with it this sleeper) now, not at the deadline
            DispatchSleep.waiting.withLock { $0 -= 1 }
            if let error { continuation.resume(throwing: error) } else { continuation.resume() }
        }
    }
}
