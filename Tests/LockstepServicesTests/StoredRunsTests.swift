import Foundation
import LockstepCore
@testable import LockstepServices
import LockstepTestSupport
import Testing

/// `StateStore.storedRuns(among:)`, the coordinator's check that a request names a run it forgot:
/// the right answer for any number of ids, in statements of a bounded number of shapes. SQLite and
/// PostgreSQL.
@Suite struct StoredRunsTests {
    typealias Backend = TaskLogStoreTests.Backend

    /// 40 stored runs (`RunHandOverTests`' history, replayed and written).
    static func storeWithRuns(_ backend: Backend) async throws -> (StateStore, Set<RunID>, @Sendable () -> Void) {
        let (store, cleanup) = try await TaskLogStoreTests.open(backend)
        let outcome = Engine(dags: [RunHandOverTests.dag], config: .empty).replay(RunHandOverTests.inputs, forgetAfter: 4)
        try await store.replaceEngine(state: outcome.state, finished: outcome.finished, timers: outcome.timers)
        let stored = Set(try await store.runs(limit: 100).map(\.id))
        #expect(stored.count == 40)
        return (store, stored, cleanup)
    }

    /// Sizes on both sides of each padding step and of a chunk, stored and unknown ids mixed.
    @Test(arguments: Backend.allCases)
    func answersWhichOfAnyNumberOfIdsAreStored(_ backend: Backend) async throws {
        let (store, stored, cleanup) = try await Self.storeWithRuns(backend)
        defer { cleanup() }
        let storedIDs = stored.sorted()
        for count in [1, 2, 3, 5, 17, 40, 511, 512, 513, 1_100] {
            let known = Set(storedIDs.prefix(count / 3 + 1))
            let unknown = (0..<(count - known.count)).map { "handed~unknown-\($0)" }
            let found = try await store.storedRuns(among: known.union(unknown))
            #expect(found == known, "\(count) ids")
        }
        await store.close()
    }

    /// Every number of ids from 1 to 600 asked once: the connection keeps at most ten more statements
    /// (one per power of two up to a chunk), not one per count.
    @Test func aBurstOfEveryCountLeavesABoundedNumberOfPreparedStatements() async throws {
        let (store, stored, cleanup) = try await Self.storeWithRuns(.sqlite)
        defer { cleanup() }
        let before = try #require(await store.preparedStatementCount())
        for count in 1...600 {
            let ids = Set((0..<count).map { "handed~unknown-\($0)" }).union([stored.first!])
            #expect(try await store.storedRuns(among: ids) == [stored.first!])
        }
        let added = try #require(await store.preparedStatementCount()) - before
        #expect(added <= 10, "\(added) statements kept for one query")
        await store.close()
    }

    @Test func listsArePaddedToThePowerOfTwoAtOrAboveTheirLength() {
        let widths = [1, 2, 3, 4, 5, 100, 256, 257, 511, 512].map(StateStore.placeholderWidth)
        #expect(widths == [1, 2, 4, 4, 8, 128, 256, 512, 512, 512])
    }
}
