import Foundation

/// Wakes one waiting consumer: rung by a publish on its topics, a rebalance, a close or the poll for
/// other processes' writes. A ring with nobody waiting is kept, so a ring between "fetched nothing"
/// and "wait" is never lost.
final class EmbeddedDoorbell: @unchecked Sendable {
    // @unchecked: `rung` and `waiter` are only touched with `lock` held.
    private let lock = NSLock()
    private var rung = false
    private var waiter: CheckedContinuation<Void, Never>?

    func ring() {
        lock.lock()
        if let waiter {
            self.waiter = nil
            lock.unlock()
            waiter.resume()
        } else {
            rung = true
            lock.unlock()
        }
    }

    /// Returns at the next ring (at once if one came since the last wait) or when the task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                lock.lock()
                if rung || Task.isCancelled {
                    rung = false
                    lock.unlock()
                    continuation.resume()
                } else {
                    waiter = continuation
                    lock.unlock()
                }
            }
        } onCancel: {
            ring()
        }
    }
}
