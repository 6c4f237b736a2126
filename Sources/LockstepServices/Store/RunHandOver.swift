import Foundation
import LockstepCore

/// Finished runs passed from a replay to the store that writes them, while the replay goes on.
///
/// The replay (`Engine.replay`) runs on one core and the store's writing (encoding each run, then
/// SQL) on its own thread: a rebuild used to do one after the other. The store's thread waits here
/// for the next batch; it is a thread of its own (`DedicatedThreadExecutor`), so waiting takes no
/// thread from the cooperative pool. The replay never waits: batches queue up, at most every
/// finished run, which is what the replay held before.
final class RunHandOver: @unchecked Sendable {
    // @unchecked: every field is read and written under `condition`.
    enum Item {
        case finished([DagRun])
        /// The replay ended: the runs still in flight, and the timers armed.
        case end(EngineState, [TimerID: Date])
        /// The replay could not finish; the store writes nothing.
        case abandoned
    }

    private let condition = NSCondition()
    /// Taken items are set to nil, so a batch is let go once written.
    private var items: [Item?] = []
    private var head = 0

    func push(_ item: Item) {
        condition.lock()
        items.append(item)
        condition.signal()
        condition.unlock()
    }

    /// The next item, waiting for it.
    func next() -> Item {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count { condition.wait() }
        defer { items[head] = nil; head += 1 }
        return items[head]!
    }
}
