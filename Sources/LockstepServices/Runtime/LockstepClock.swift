import Foundation
import LockstepCore

/// The time the components live by: what time it is, and waiting until a time. Every component reads
/// it through `Runtime.clock`, so a test clock (LockstepTestKit's `TestClock`) can drive retries,
/// timeouts, claim renewals, timer firings and schedule ticks without sleeping.
///
/// Dates, not a Swift `Clock`: the engine's `now`, stored timers, claim heartbeats and record
/// timestamps are all dates, and a `Clock`'s `Instant` (ContinuousClock's, say) has no relation to
/// the calendar, so a timer stored as a date could not be slept until with it.
public protocol LockstepClock: Sendable {
    var now: Date { get }
    /// Returns once `now` is at or after `deadline` (at once if it already is); throws
    /// `CancellationError` when the waiting task is cancelled first.
    func sleep(until deadline: Date) async throws
}

extension LockstepClock {
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now.addingTimeInterval(duration.timeInterval))
    }
}

/// The real clock: the system's date, and a Dispatch timer for the time left (`DispatchSleep`, not
/// `Task.sleep`, whose cancelled sleeps linger until their deadline).
public struct SystemClock: LockstepClock {
    public init() {}

    public var now: Date { Date() }

    public func sleep(until deadline: Date) async throws {
        let left = deadline.timeIntervalSinceNow
        guard left > 0 else { return }
        try await DispatchSleep.sleep(seconds: left)
    }
}
