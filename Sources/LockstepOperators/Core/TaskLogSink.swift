import Foundation
import LockstepCore

/// Where a line of an attempt's log came from.
public enum TaskLogStream: String, Sendable, Hashable, Codable, CaseIterable {
    /// A program's standard output (the `command` operator).
    case stdout
    /// A program's standard error.
    case stderr
    /// The operator's own lines (what it did, what it got), including its swift-log lines.
    case `operator`
}

/// One line of one attempt's log, already masked and numbered.
public struct TaskLogLine: Sendable, Hashable, Codable {
    /// 1-based, contiguous within the attempt: a reader's cursor ("lines after 120").
    public var seq: Int
    public var time: Date
    public var stream: TaskLogStream
    /// One line without its newline; never holds a connection password or URI.
    public var text: String

    public init(seq: Int, time: Date, stream: TaskLogStream, text: String) {
        self.seq = seq
        self.time = time
        self.stream = stream
        self.text = text
    }
}

/// Keeps attempts' log lines: the state store implements it so every worker writes where every reader
/// looks; tests use `InMemoryTaskLogSink`.
///
/// `TaskLog` calls `append` from one task at a time per attempt, batch after batch in `seq` order, and
/// waits for each call to return before the next, so an implementation may insert in arrival order.
/// A batch may be retried after a thrown error (same lines, same `seq`s): make the insert idempotent on
/// (attempt, seq). Errors never fail the attempt; they are counted in `TaskLog.Summary`.
public protocol TaskLogSink: Sendable {
    func append(_ lines: [TaskLogLine], attempt: AttemptID) async throws
}

/// Keeps every line in memory, per attempt: for tests and `lockstep tasks test`.
public actor InMemoryTaskLogSink: TaskLogSink {
    private var lines: [AttemptID: [TaskLogLine]] = [:]

    public init() {}

    public func append(_ batch: [TaskLogLine], attempt: AttemptID) async throws {
        var existing = lines[attempt, default: []]
        // Idempotent on seq, as the protocol asks of every sink: a retried batch adds nothing twice.
        let last = existing.last?.seq ?? 0
        existing += batch.filter { $0.seq > last }
        lines[attempt] = existing
    }

    /// The attempt's lines with `seq` greater than `after`, in order (a reader's cursor).
    public func lines(for attempt: AttemptID, after: Int = 0) -> [TaskLogLine] {
        (lines[attempt] ?? []).filter { $0.seq > after }
    }

    public var attempts: [AttemptID] { lines.keys.sorted() }
}
