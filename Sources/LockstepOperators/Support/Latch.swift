import Dispatch
import Foundation
import LockstepCore

/// A value set once, by whichever thread gets there first, and awaited by any number of tasks, each
/// with an optional deadline. Waiting ignores task cancellation on purpose: the process supervisor
/// must go on waiting for a child it already signalled even when its own task was cancelled.
final class Latch<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `value`, `waiters` and `nextID` are only touched with `lock` held.
    private let lock = NSLock()
    private var value: Value?
    private var waiters: [Int: CheckedContinuation<Value?, Never>] = [:]
    private var nextID = 0

    /// Sets the value unless one is set already; true if this call set it.
    @discardableResult
    func fire(_ newValue: Value) -> Bool {
        let resumed: [CheckedContinuation<Value?, Never>]? = lock.withLock {
            guard value == nil else { return nil }
            value = newValue
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
        guard let resumed else { return false }
        for waiter in resumed { waiter.resume(returning: newValue) }
        return true
    }

    var current: Value? { lock.withLock { value } }

    /// The value, or nil if `deadline` passes first.
    func wait(until deadline: ContinuousClock.Instant? = nil) async -> Value? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
            let id: Int? = lock.withLock {
                if value != nil { return nil }
                defer { nextID += 1 }
                waiters[nextID] = continuation
                return nextID
            }
            guard let id else {
                continuation.resume(returning: current)
                return
            }
            guard let deadline else { return }
            let delay = max((deadline - ContinuousClock.now).seconds, 0)
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) { [self] in expire(id) }
        }
    }

    private func expire(_ id: Int) {
        let waiter = lock.withLock { waiters.removeValue(forKey: id) }
        waiter?.resume(returning: nil)
    }
}
