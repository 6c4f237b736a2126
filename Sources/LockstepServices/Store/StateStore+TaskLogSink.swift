import LockstepCore
import LockstepOperators

/// Workers write each attempt's log lines into the state store, beside the run state, so every
/// worker writes where every reader (`lockstep logs`, the API) looks, and lines stored before a
/// kill -9 stay. A batch sent twice is stored once (the store ignores a sequence number it has).
extension StateStore: TaskLogSink {
    public func append(_ lines: [TaskLogLine], attempt: AttemptID) async throws {
        try appendLogLines(attempt, lines.map { StoredLogLine(seq: $0.seq, time: $0.time, stream: $0.stream.rawValue, text: $0.text) })
    }
}
