import Foundation
import LockstepCore
import LockstepOperators
@testable import LockstepServices
import LockstepTestSupport
import Testing

/// One attempt run more than once as the same try (its worker killed, a dead letter redriven): each
/// execution's lines are kept, in execution order, apart from each other. On SQLite and PostgreSQL.
@Suite struct ExecutionLogSinkTests {
    let attempt = AttemptID(runID: "talk~1", taskID: "talk", tryNumber: 1)
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: TaskLogStoreTests.Backend.allCases)
    func aTakeOverNumbersItsLinesAfterTheStoredOnesBehindOneMarkerAndTheFormerHolderIsRefused(
        _ backend: TaskLogStoreTests.Backend
    ) async throws {
        let (store, cleanup) = try await TaskLogStoreTests.open(backend)
        defer { cleanup() }
        let first = "worker/host-1/0"
        let second = "worker/host-2/1"
        #expect(try await store.claim(attempt, worker: first, now: Self.start, staleAfter: .seconds(10)) == .claimed)
        let firstLog = ExecutionLogSink(store: store, start: .claimed(worker: first))
        try await firstLog.append(Self.lines(1...3, "first"), attempt: attempt)

        // The first worker stops renewing; 30 s later the second takes the stale claim over.
        #expect(try await store.claim(attempt, worker: second, now: Self.start.addingTimeInterval(30), staleAfter: .seconds(10)) == .claimed)
        let secondLog = ExecutionLogSink(store: store, start: .claimed(worker: second))
        let batch = Self.lines(1...2, "second")
        try await secondLog.append(batch, attempt: attempt)
        // Sent again, as TaskLog does after an error it cannot tell from a lost acknowledgement.
        try await secondLog.append(batch, attempt: attempt)
        try await secondLog.append(Self.lines(3...3, "second"), attempt: attempt)

        // The first worker was not dead after all (it could not reach the store): its next batch is
        // refused, not mixed into the second's numbering.
        await #expect(throws: ExecutionLogSink.ClaimLost.self) {
            try await firstLog.append(Self.lines(4...5, "first"), attempt: attempt)
        }

        let lines = try await store.logLines(attempt).lines
        #expect(lines.map(\.seq) == Array(1...7), "\(lines.map(\.seq))")
        #expect(lines.map(\.text) == ["first 1", "first 2", "first 3", lines[3].text, "second 1", "second 2", "second 3"])
        #expect(lines[3].stream == "operator")
        #expect(lines[3].text.hasPrefix("[lockstep] \(second) took this attempt over (same try): lines 1–3 came before, from an execution that ended without a result"), "\(lines[3].text)")
        #expect(lines[3].time == lines[4].time)

        // A redriven dead letter runs it a third time, without a claim of its own.
        let redriven = ExecutionLogSink(store: store, start: .redriven(worker: first))
        try await redriven.append(Self.lines(1...1, "third"), attempt: attempt)
        let after = try await store.logLines(attempt, after: 7).lines
        #expect(after.map(\.seq) == [8, 9] && after.last?.text == "third 1", "\(after)")
        #expect(after.first?.text.contains("runs this attempt again (a redriven dead letter, same try): lines 1–7 came before") == true, "\(after)")
        await store.close()
    }

    @Test func aFirstExecutionIsNumberedFromOneWithoutAMarker() async throws {
        let (store, cleanup) = try await TaskLogStoreTests.open(.sqlite)
        defer { cleanup() }
        #expect(try await store.claim(attempt, worker: "w/h/0", now: Self.start, staleAfter: .seconds(10)) == .claimed)
        let log = ExecutionLogSink(store: store, start: .claimed(worker: "w/h/0"))
        try await log.append(Self.lines(1...2, "only"), attempt: attempt)
        #expect(try await store.logLines(attempt).lines.map(\.text) == ["only 1", "only 2"])
        await store.close()
    }

    static func lines(_ range: ClosedRange<Int>, _ label: String) -> [TaskLogLine] {
        range.map { TaskLogLine(seq: $0, time: start.addingTimeInterval(Double($0)), stream: .stdout, text: "\(label) \($0)") }
    }
}
