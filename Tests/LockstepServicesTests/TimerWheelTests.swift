import Foundation
import LockstepCore
@testable import LockstepServices
import LockstepTestKit
import Testing

/// The coordinator's timer wheel on a test clock: what is due when, in which order, and how long it waits.
@Suite struct TimerWheelTests {
    let start = TestClock.defaultStart

    func timer(_ run: String, _ kind: TimerID.Kind = .retry, try tryNumber: Int = 1) -> TimerID {
        TimerID(attempt: AttemptID(runID: run, taskID: "t", tryNumber: tryNumber), kind: kind)
    }

    func at(_ seconds: Double) -> Date { start.addingTimeInterval(seconds) }

    @Test func armedTimersAreTakenOnceDueEarliestFirst() async {
        let clock = TestClock()
        let (a, b, c) = (timer("a"), timer("b", .timeout), timer("c"))
        let wheel = TimerWheel([c: at(30)], clock: clock)
        await wheel.update(set: [b: at(10), a: at(20)], cleared: [])
        #expect(await wheel.takeDue().isEmpty)

        clock.advance(by: .seconds(25))
        #expect(await wheel.takeDue() == [b, a])
        #expect(await wheel.takeDue().isEmpty)  // taken: not again while its firing is on its way

        clock.advance(by: .seconds(60))
        #expect(await wheel.takeDue() == [c])
    }

    @Test func timersDueAtTheSameTimeComeInIdOrder() async {
        let clock = TestClock()
        let timers = [timer("z"), timer("m"), timer("a", .timeout), timer("a")]
        let wheel = TimerWheel(Dictionary(uniqueKeysWithValues: timers.map { ($0, at(5)) }), clock: clock)
        clock.advance(by: .seconds(5))
        #expect(await wheel.takeDue() == timers.sorted())
    }

    @Test func reArmingMovesATimerAndLetsATakenOneFireAgain() async {
        let clock = TestClock()
        let a = timer("a")
        let wheel = TimerWheel([a: at(10)], clock: clock)
        await wheel.update(set: [a: at(40)], cleared: [])
        clock.advance(by: .seconds(20))
        #expect(await wheel.takeDue().isEmpty)  // moved later
        clock.advance(by: .seconds(20))
        #expect(await wheel.takeDue() == [a])
        await wheel.update(set: [a: at(40)], cleared: [])
        #expect(await wheel.takeDue() == [a])  // armed again, so due again
    }

    @Test func aClearedTimerNeverFiresAndARetriedOneFiresAgain() async {
        let clock = TestClock()
        let (a, b) = (timer("a"), timer("b"))
        let wheel = TimerWheel([a: at(1), b: at(1)], clock: clock)
        await wheel.update(set: [:], cleared: [a])
        clock.advance(by: .seconds(2))
        #expect(await wheel.takeDue() == [b])
        await wheel.retry(b)  // its firing could not be published
        #expect(await wheel.takeDue() == [b])
        #expect(await wheel.armed == [b: at(1)])
    }

    @Test func waitingEndsWhenTheEarliestTimerIsDue() async throws {
        let clock = TestClock()
        let wheel = TimerWheel([timer("late"): at(300), timer("soon"): at(45)], clock: clock)
        let waiter = Task { await wheel.waitForNextDue() }
        try await poll("the wheel to wait for the earliest timer") { clock.pendingSleeps == [at(45)] }
        clock.advance(by: .seconds(44))
        #expect(clock.pendingSleeps == [at(45)])  // not yet
        clock.advance(by: .seconds(1))
        await waiter.value
        #expect(await wheel.takeDue() == [timer("soon")])
    }

    @Test func waitingLooksAgainAfterAMinuteWhateverTheNextTimer() async throws {
        let clock = TestClock()
        let wheel = TimerWheel([timer("tomorrow"): at(86_400)], clock: clock)
        let waiter = Task { await wheel.waitForNextDue() }
        try await poll("the wheel to wait") { !clock.pendingSleeps.isEmpty }
        #expect(clock.pendingSleeps == [at(TimerWheel.longestWait.timeInterval)])
        clock.advance(by: TimerWheel.longestWait)
        await waiter.value
    }

    @Test func anArmedTimerEndsTheWaitSoItIsNotMissed() async throws {
        let clock = TestClock()
        let wheel = TimerWheel([:], clock: clock)
        let waiter = Task { await wheel.waitForNextDue() }
        try await poll("the wheel to wait") { !clock.pendingSleeps.isEmpty }
        await wheel.update(set: [timer("new"): at(5)], cleared: [])
        await waiter.value  // the clock did not move: the new timer woke it
        #expect(clock.pendingSleeps.isEmpty)  // its sleep was cancelled, not left behind
        #expect(clock.now == start)
    }

    @Test func aDueTimerMeansNoWaitAndCancellingEndsAWait() async throws {
        let clock = TestClock()
        let wheel = TimerWheel([timer("due"): at(0)], clock: clock)
        await wheel.waitForNextDue()  // returns at once
        _ = await wheel.takeDue()
        let waiter = Task { await wheel.waitForNextDue() }
        try await poll("the wheel to wait") { !clock.pendingSleeps.isEmpty }
        waiter.cancel()
        await waiter.value
        try await poll("its sleep to be cancelled") { clock.pendingSleeps.isEmpty }
    }
}
