import Foundation
@testable import LockstepServices
import LockstepTestKit
import Testing

/// The real clock's sleep (`DispatchSleep`): it waits at least as long as asked, and a cancelled
/// sleep ends at once and leaves nothing behind — `Task.sleep`'s cancelled timers stay until their
/// deadline, which made memory grow with every attempt's hour-long timeout watchdog.
@Suite(.serialized) struct SystemClockTests {
    @Test func aSleepLastsAtLeastWhatItWasAskedFor() async throws {
        let clock = SystemClock()
        let start = ContinuousClock.now
        try await clock.sleep(for: .milliseconds(50))
        #expect(ContinuousClock.now - start >= .milliseconds(50))
        try await clock.sleep(until: Date().addingTimeInterval(-1))  // past: returns at once
    }

    @Test func cancelledHourLongSleepsEndAtOnceAndLeaveNothingBehind() async throws {
        let before = DispatchSleep.pending
        let sleepers = (0..<200).map { _ in Task { try await SystemClock().sleep(for: .seconds(3600)) } }
        try await poll("every sleep to have started") { DispatchSleep.pending == before + 200 }
        for sleeper in sleepers { sleeper.cancel() }
        for sleeper in sleepers {
            await #expect(throws: CancellationError.self) { try await sleeper.value }
        }
        #expect(DispatchSleep.pending == before)
    }

    @Test func aSleepCancelledBeforeItStartsThrowsAndCountsNothing() async throws {
        let before = DispatchSleep.pending
        let sleeper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await SystemClock().sleep(for: .seconds(3600))
        }
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(DispatchSleep.pending == before)
    }
}
