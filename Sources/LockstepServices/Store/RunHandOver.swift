import Foundation
import LockstepCore

/// Finished runs passed from a replay to the store that writes them, while the replay goes on.
///
/// The replay (`Engine.replay`) runs on one core and the store's writing (encoding each run, then
/// SQL) on its own thread: a rebuild used to do one after the other. The store's thread waits here
/// for the next batch; it is a thread of its own (`DedicatedThreadExecutor`), so waiting blocks no
/// task. The replay never waits: batches queue up, at most every finished run, which is what the
/// replay held before.
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
    private var items: [Item] = []
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
        let item = items[head]
        items[head] = .abandoned  // let the batch go once taken
        head += 1
        return item
    }
}
