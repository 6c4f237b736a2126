import Foundation
import LockstepCore
import LockstepServices
import LockstepTestSupport
import Testing

/// Per-attempt task logs in the state store: batches, cursors, grep, tail, tries, pruning, volume.
/// Every test runs on SQLite and on a real PostgreSQL.
@Suite struct TaskLogStoreTests {
    enum Backend: String, CaseIterable, Sendable { case sqlite, postgres }

    let attempt = AttemptID(runID: "logs~1", taskID: "extract", tryNumber: 1)
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: Backend.allCases)
    func batchesAreReadBackInOrderWithACursorAndASentAgainBatchIsStoredOnce(_ backend: Backend) async throws {
        let (store, cleanup) = try await Self.open(backend)
        defer { cleanup() }
        let lines = Self.lines(1...30)
        for batch in stride(from: 0, to: 30, by: 10) { try await store.appendLogLines(attempt, Array(lines[batch..<batch + 10])) }
        // A writer that did not hear back sends its batch again.
        try await store.appendLogLines(attempt, Array(lines[10..<20]))

        var read: [StoredLogLine] = []
        var cursor: Int?
        var pages = 0
        while true {
            let page = try await store.logLines(attempt, after: cursor, limit: 7)
            read += page.lines
            pages += 1
            #expect(page.nextCursor == page.lines.last?.seq ?? cursor)
            cursor = page.nextCursor
            if !page.hasMore { break }
        }
        #expect(read == lines)
        #expect(pages == 5)
        // Following from the end: nothing new, the cursor stays, and the attempt has not ended.
        let idle = try await store.logLines(attempt, after: cursor)
        #expect(idle.lines.isEmpty && idle.nextCursor == 30 && !idle.hasMore && !idle.attemptEnded)
        // New lines arrive after the cursor only.
        try await store.appendLogLines(attempt, Self.lines(31...32))
        #expect(try await store.logLines(attempt, after: cursor).lines.map(\.seq) == [31, 32])
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func grepMatchesPlainTextAndItsCursorMovesPastLinesThatDoNotMatch(_ backend: Backend) async throws {
        let (store, cleanup) = try await Self.open(backend)
        defer { cleanup() }
        var lines = Self.lines(1...40)
        for i in [4, 14, 24, 34] { lines[i].text = "ERROR at step \(i + 1): 50% done" }
        lines[20].text = "500 done"  // `%` is no wildcard: "50%" must not match this
        try await store.appendLogLines(attempt, lines)

        let first = try await store.logLines(attempt, limit: 3, grep: "50%")
        #expect(first.lines.map(\.seq) == [5, 15, 25] && first.hasMore && first.nextCursor == 25)
        let second = try await store.logLines(attempt, after: first.nextCursor, limit: 3, grep: "50%")
        // The last match is line 35, but lines 36–40 were read too: the cursor is past them.
        #expect(second.lines.map(\.seq) == [35] && !second.hasMore && second.nextCursor == 40)
        let none = try await store.logLines(attempt, after: second.nextCursor, grep: "ERROR")
        #expect(none.lines.isEmpty && none.nextCursor == 40)
        #expect(try await store.logLines(attempt, grep: "error").lines.isEmpty)  // case-sensitive, like grep
        #expect(try await store.logLines(attempt, grep: "step_").lines.isEmpty)  // `_` is no wildcard either
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func tailShowsTheNewestLinesOldestFirstAndFollowingGoesOnFromTheNewest(_ backend: Backend) async throws {
        let (store, cleanup) = try await Self.open(backend)
        defer { cleanup() }
        #expect(try await store.tail(attempt, limit: 5) == LogPage(lines: [], nextCursor: nil, hasMore: false, attemptEnded: false))
        var lines = Self.lines(1...50)
        lines[9].stream = "stderr"
        lines[9].text = "warning: slow"
        try await store.appendLogLines(attempt, lines)

        let tail = try await store.tail(attempt, limit: 5)
        #expect(tail.lines == Array(lines[45..<50]) && tail.nextCursor == 50)
        let grepped = try await store.tail(attempt, limit: 5, grep: "warning")
        #expect(grepped.lines.map(\.seq) == [10] && grepped.lines.first?.stream == "stderr" && grepped.nextCursor == 50)
        try await store.appendLogLines(attempt, Self.lines(51...52))
        #expect(try await store.logLines(attempt, after: tail.nextCursor).lines.map(\.seq) == [51, 52])
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func anAttemptEndsWhenItsResultIsRecordedAndTriesWithLogsAreListed(_ backend: Backend) async throws {
        let (store, cleanup) = try await Self.open(backend)
        defer { cleanup() }
        let second = AttemptID(runID: attempt.runID, taskID: attempt.taskID, tryNumber: 2)
        try await store.appendLogLines(attempt, Self.lines(1...3))
        try await store.appendLogLines(second, Self.lines(1...2, at: Self.start.addingTimeInterval(60)))
        try await store.appendLogLines(AttemptID(runID: attempt.runID, taskID: "other", tryNumber: 1), Self.lines(1...1))

        let tries = try await store.logTries(runID: attempt.runID, taskID: attempt.taskID)
        #expect(tries.map(\.tryNumber) == [1, 2] && tries.map(\.lines) == [3, 2])
        #expect(tries.first?.firstTime == Self.start && tries.first?.lastTime == Self.start.addingTimeInterval(2))
        #expect(try await store.logTries(runID: attempt.runID, taskID: "missing").isEmpty)

        #expect(try await store.logLines(attempt).attemptEnded == false)
        try await store.recordAttemptResult(attempt, eventJSON: "{}", at: Self.start.addingTimeInterval(3))
        let ended = try await store.logLines(attempt)
        #expect(ended.attemptEnded && ended.lines.count == 3)
        #expect(try await store.tail(attempt, limit: 1).attemptEnded)
        #expect(try await store.logLines(second).attemptEnded == false)
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func pruningRemovesWholeAttemptsWhoseNewestLineIsOlderThanTheCutoff(_ backend: Backend) async throws {
        let (store, cleanup) = try await Self.open(backend)
        defer { cleanup() }
        let now = Self.start
        let old = AttemptID(runID: "old~1", taskID: "t", tryNumber: 1)
        let growing = AttemptID(runID: "growing~1", taskID: "t", tryNumber: 1)
        let recent = AttemptID(runID: "recent~1", taskID: "t", tryNumber: 1)
        try await store.appendLogLines(old, Self.lines(1...5, at: now.addingTimeInterval(-40 * 86_400)))
        // Began long ago and still writes: keeps its beginning.
        try await store.appendLogLines(growing, Self.lines(1...3, at: now.addingTimeInterval(-40 * 86_400)))
        try await store.appendLogLines(growing, Self.lines(4...4, at: now.addingTimeInterval(-60)))
        try await store.appendLogLines(recent, Self.lines(1...2, at: now.addingTimeInterval(-3600)))

        let pruned = try await store.pruneLogs(olderThan: now.addingTimeInterval(-30 * 86_400))
        #expect(pruned == PrunedLogs(attempts: 1, lines: 5))
        #expect(try await store.logLines(old).lines.isEmpty)
        #expect(try await store.logLines(growing).lines.map(\.seq) == [1, 2, 3, 4])
        #expect(try await store.logLines(recent).lines.count == 2)
        #expect(try await store.pruneLogs(olderThan: now.addingTimeInterval(-30 * 86_400)) == PrunedLogs(attempts: 0, lines: 0))
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func aHundredThousandLinesInBatchesOfAThousandAreAllThereInOrder(_ backend: Backend) async throws {
        let (store, cleanup) = try await Self.open(backend)
        defer { cleanup() }
        let total = 100_000
        for batch in 0..<(total / 1000) {
            let first = batch * 1000 + 1
            try await store.appendLogLines(attempt, (first..<first + 1000).map {
                StoredLogLine(seq: $0, time: Self.start.addingTimeInterval(Double($0) / 1000), stream: $0 % 7 == 0 ? "stderr" : "stdout",
                              text: "line \($0) of the training run, loss=\(Double($0) / 1e5)")
            })
        }
        #expect(try await store.logTries(runID: attempt.runID, taskID: attempt.taskID).first?.lines == total)

        var cursor: Int?
        var expected = 1
        var pages = 0
        while true {
            let page = try await store.logLines(attempt, after: cursor, limit: StateStore.maxLogPage)
            for line in page.lines {
                guard line.seq == expected else {
                    Issue.record("line \(line.seq) where \(expected) was due")
                    return
                }
                expected += 1
            }
            pages += 1
            cursor = page.nextCursor
            if !page.hasMore { break }
        }
        #expect(expected == total + 1 && pages == total / StateStore.maxLogPage)
        let tail = try await store.tail(attempt, limit: 3)
        #expect(tail.lines.map(\.seq) == [99_998, 99_999, 100_000] && tail.lines.last?.text == "line 100000 of the training run, loss=1.0")
        let grepped = try await store.tail(attempt, limit: 10, grep: "line 4242 ")
        #expect(grepped.lines.map(\.seq) == [4242])
        await store.close()
    }

    // MARK: Helpers

    static func lines(_ range: ClosedRange<Int>, at start: Date = TaskLogStoreTests.start) -> [StoredLogLine] {
        range.map { StoredLogLine(seq: $0, time: start.addingTimeInterval(Double($0 - range.lowerBound)), stream: "stdout", text: "line \($0)") }
    }

    static func open(_ backend: Backend) async throws -> (StateStore, @Sendable () -> Void) {
        switch backend {
        case .sqlite:
            let dir = try TestPaths.temporaryDirectory("lockstep-logs")
            let store = try await StateStore(.sqlite(path: dir.appendingPathComponent("state.sqlite").path))
            return (store, { try? FileManager.default.removeItem(at: dir) })
        case .postgres:
            let cluster = try await PostgresCluster.shared()
            let database = try freshDatabase(cluster, "logs")
            return (try await StateStore(.postgres(uri: cluster.uri(database: database))), {})
        }
    }
}
