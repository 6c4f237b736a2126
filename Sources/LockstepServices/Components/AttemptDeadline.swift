import Foundation
import LockstepCore

/// An attempt's limit, on two clocks. `at` is on the runtime's clock: the worker ends the attempt
/// once it has passed, so a test clock can time an attempt out. `budget` is the same limit in real
/// time, handed to the operator as `OperatorContext.deadline`: the operators' HTTP and libpq timeouts
/// guard real sockets, which wait in real time whatever a test clock says. With the system clock
/// the two fall together.
struct AttemptDeadline: Sendable {
    let limit: Duration
    let at: Date
    let budget: ContinuousClock.Instant

    /// The limit counted from `start` on the runtime's clock, and from now in real time.
    init(start: Date, limit: Duration) {
        self.limit = limit
        at = start.addingTimeInterval(limit.timeInterval)
        budget = .now + limit
    }

    /// The limit has passed on the runtime's clock, or the operator's real-time budget ran out.
    func hasPassed(on clock: any LockstepClock) -> Bool {
        clock.now >= at || ContinuousClock.now >= budget
    }
}
