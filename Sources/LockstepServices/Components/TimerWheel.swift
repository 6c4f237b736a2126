import Foundation
import LockstepCore

/// The coordinator's armed timers in memory, mirrored from the store.
actor TimerWheel {
    private var timers: [TimerID: Date]
    /// Published but not yet consumed back: not fired again unless the process restarts.
    private var fired: Set<TimerID> = []
    private var wakeUp: CheckedContinuation<Void, Never>?

    init(_ timers: [TimerID: Date]) { self.timers = timers }

    func update(set: [TimerID: Date], cleared: Set<TimerID>) {
        for timer in cleared {
            timers[timer] = nil
            fired.remove(timer)
        }
        for (timer, at) in set {
            timers[timer] = at
            fired.remove(timer)
        }
        if !set.isEmpty { wake() }
    }

    func takeDue(now: Date) -> [TimerID] {
        let due = timers.filter { $0.value <= now && !fired.contains($0.key) }.keys.sorted()
        fired.formUnion(due)
        return due
    }

    func retry(_ timer: TimerID) { fired.remove(timer) }

    /// Sleeps until the earliest timer is due (at most a minute), or until a new timer arrives.
    func waitForNextDue(now: Date) async {
        let next = timers.filter { !fired.contains($0.key) }.values.min()
        let delay = min(max(next.map { $0.timeIntervalSince(now) } ?? 60, 0.001), 60)
        let sleeper = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
            await self?.wake()
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled { continuation.resume() } else { wakeUp = continuation }
            }
        } onCancel: {
            Task { await self.wake() }
        }
        sleeper.cancel()
    }

    private func wake() {
        wakeUp?.resume()
        wakeUp = nil
    }
}
