import Foundation
import LockstepCore

/// The coordinator's armed timers (retry delays, attempt timeouts) in memory, mirrored from the store,
/// on the runtime's clock: the coordinator takes the due ones, publishes a `timer.fired` for each, and
/// waits for the next due time.
actor TimerWheel {
    private let clock: any LockstepClock
    private var timers: [TimerID: Date]
    /// Published but not yet consumed back: not fired again unless the process restarts.
    private var fired: Set<TimerID> = []
    private var wakeUp: CheckedContinuation<Void, Never>?
    /// The longest wait without looking again, whatever the next timer: a bound on how long a wait
    /// computed before a clock jump (or a lost wake-up) can be wrong.
    static let longestWait = Duration.seconds(60)

    init(_ timers: [TimerID: Date], clock: any LockstepClock) {
        self.timers = timers
        self.clock = clock
    }

    /// Arms (or re-arms at a new time) `set` and clears `cleared`, as the coordinator committed them.
    /// A timer armed again may fire again, even if its earlier firing was published.
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

    /// The timers due by now that were not taken yet, earliest first (ties by id, so the order is the
    /// same on every run). Taken timers are not taken again until `retry` or a re-arm.
    func takeDue() -> [TimerID] {
        let now = clock.now
        let due = timers.filter { $0.value <= now && !fired.contains($0.key) }
            .sorted { ($0.value, $0.key) < ($1.value, $1.key) }
            .map(\.key)
        fired.formUnion(due)
        return due
    }

    /// A taken timer whose firing could not be published: take it again.
    func retry(_ timer: TimerID) { fired.remove(timer) }

    /// When the earliest timer not yet taken is due; nil when there is none.
    var nextDue: Date? { timers.filter { !fired.contains($0.key) }.values.min() }

    /// Armed timers, taken or not.
    var armed: [TimerID: Date] { timers }

    /// Returns when the earliest timer is due (after `longestWait` at most), when a timer is armed,
    /// or when the calling task is cancelled.
    func waitForNextDue() async {
        let now = clock.now
        let longest = now.addingTimeInterval(Self.longestWait.timeInterval)
        let until = min(nextDue ?? longest, longest)
        guard until > now else { return }
        let clock = self.clock
        let sleeper = Task { [weak self] in
            // Cancelled below once the wait is over for another reason; either way, wake the waiter.
            try? await clock.sleep(until: until)
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
