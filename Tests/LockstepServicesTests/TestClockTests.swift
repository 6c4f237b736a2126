import Foundation
import LockstepTestKit
import Testing

/// The test kit's clock: it moves only when told, wakes sleepers in order, and lets cancelled
/// sleepers go whenever the cancellation comes.
@Suite struct TestClockTests {
    let start = TestClock.defaultStart

    @Test func sleepReturnsAtOnceWhenTheTargetIsNowOrPast() async throws {
        let clock = TestClock()
        try await clock.sleep(until: start)
        try await clock.sleep(until: start.addingTimeInterval(-60))
        try await clock.sleep(for: .zero)
        #expect(clock.now == start)
        #expect(clock.pendingSleeps.isEmpty)
    }

    @Test func sleepersWakeWhenTimeReachesThemEarliestFirst() async throws {
        let clock = TestClock()
        let woken = Woken()
        var sleepers: [Task<Void, any Error>] = []
        for seconds in [30.0, 10, 20] {
            sleepers.append(Task {
                try await clock.sleep(until: start.addingTimeInterval(seconds))
                await woken.add(seconds)
            })
        }
        try await poll("three sleepers") { clock.pendingSleeps.count == 3 }
        #expect(clock.pendingSleeps == [10, 20, 30].map { start.addingTimeInterval($0) })

        clock.advance(by: .seconds(15))
        try await poll("the 10 s sleeper to wake") { await woken.all == [10] }
        #expect(clock.pendingSleeps == [20, 30].map { start.addingTimeInterval($0) })

        clock.advance(to: start.addingTimeInterval(30))
        for sleeper in sleepers { try await sleeper.value }
        #expect(Set(await woken.all) == [10, 20, 30])
        #expect(clock.now == start.addingTimeInterval(30))
    }

    @Test func theClockNeverGoesBack() {
        let clock = TestClock()
        clock.advance(by: .seconds(5))
        clock.advance(to: start)
        #expect(clock.now == start.addingTimeInterval(5))
    }

    @Test func aCancelledSleeperThrowsAndLeavesNothingBehind() async throws {
        let clock = TestClock()
        let sleeper = Task { try await clock.sleep(until: start.addingTimeInterval(60)) }
        try await poll("the sleeper to wait") { clock.pendingSleeps.count == 1 }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.pendingSleeps.isEmpty)
        // Its target passing later wakes nothing and crashes nothing (no continuation resumed twice).
        clock.advance(by: .seconds(120))
    }

    @Test func aSleeperCancelledBeforeItStartsThrowsAtOnce() async throws {
        let clock = TestClock()
        let sleeper = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(until: start.addingTimeInterval(60))
        }
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.pendingSleeps.isEmpty)
    }

    @Test func manySleepersRacingCancelsAndAdvancesEachEndOnce() async throws {
        let clock = TestClock()
        let sleepers = (0..<200).map { i in
            Task { try await clock.sleep(until: start.addingTimeInterval(Double(i % 10))) }
        }
        for (i, sleeper) in sleepers.enumerated() where i % 3 == 0 { sleeper.cancel() }
        clock.advance(by: .seconds(10))
        var ended = 0
        for sleeper in sleepers {
            _ = try? await sleeper.value
            ended += 1
        }
        #expect(ended == 200)
        #expect(clock.pendingSleeps.isEmpty)
    }
}

private actor Woken {
    private(set) var all: [Double] = []
    func add(_ seconds: Double) { all.append(seconds) }
}
