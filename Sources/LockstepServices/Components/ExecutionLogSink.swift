import LockstepCore
import LockstepOperators

/// Where one execution of an attempt writes its log: into the state store, after whatever earlier
/// executions of the same attempt stored.
///
/// An attempt can run more than once as the same try: when its worker dies (kill -9) the survivor
/// takes the stale claim over and runs it again, and a redriven dead letter runs a finished attempt
/// again. Each execution's `TaskLog` numbers its lines from 1, and the store keys lines by
/// (attempt, seq) and ignores a seq it has, so a second execution would lose the lines whose numbers
/// the first one used and mix the rest in after them. Instead, at its first batch the execution reads
/// the newest stored seq, writes one marker line after it saying what happened, and stores its own
/// lines after the marker: the log reads as the earlier execution, the marker, this execution, each
/// line once and in order.
///
/// With a claim (`fencedBy`), a batch is stored only while that worker still holds it, so a worker
/// that lost its claim (it could not renew it in time) cannot write into the numbering of the one
/// that took over; its refused batches are counted in `TaskLog.Summary` as failed.
actor ExecutionLogSink: TaskLogSink {
    /// How this execution got the attempt: by claiming it (new, or taken over), or as a redrive of an
    /// attempt that has a result, without a claim of its own.
    enum Start: Sendable {
        case claimed(worker: String)
        case redriven(worker: String)
    }

    /// Thrown for a batch refused because this worker no longer holds the attempt's claim.
    struct ClaimLost: Error, CustomStringConvertible {
        let attempt: AttemptID
        let worker: String
        var description: String {
            "\(worker) no longer holds the claim of \(attempt): another worker took the attempt over, and only its lines are stored"
        }
    }

    private let store: StateStore
    private let start: Start
    /// Added to this execution's seqs: 0 for the first execution, else the newest seq stored before
    /// it plus the marker's place. Read once, at the first batch, and kept for the batches after it
    /// (and for a retry of the first, so the retry lands on the same seqs and is stored once).
    private var offset: Int?

    init(store: StateStore, start: Start) {
        self.store = store
        self.start = start
    }

    func append(_ lines: [TaskLogLine], attempt: AttemptID) async throws {
        guard let first = lines.first else { return }
        let offset = try await resolveOffset(attempt)
        var stored: [StoredLogLine] = []
        stored.reserveCapacity(lines.count + 1)
        // The marker goes with the execution's first line (in its first batch and any retry of it).
        if offset > 0, first.seq == 1 {
            stored.append(StoredLogLine(seq: offset, time: first.time, stream: TaskLogStream.operator.rawValue, text: marker(earlier: offset - 1)))
        }
        for line in lines {
            stored.append(StoredLogLine(seq: line.seq + offset, time: line.time, stream: line.stream.rawValue, text: line.text))
        }
        let kept = try await store.appendLogLines(attempt, stored, claimedBy: fence)
        if !kept { throw ClaimLost(attempt: attempt, worker: worker) }
    }

    private func resolveOffset(_ attempt: AttemptID) async throws -> Int {
        if let offset { return offset }
        // Read after the claim was taken: from then on no other execution stores a line (the fence),
        // so nothing can land between this read and this execution's lines.
        let newest = try await store.newestLogSeq(attempt) ?? 0
        let offset = newest == 0 ? 0 : newest + 1
        self.offset = offset
        return offset
    }

    private var fence: String? {
        switch start {
        case .claimed(let worker): worker
        // A redrive holds no claim of its own (the attempt's claim is its first worker's): unfenced.
        case .redriven: nil
        }
    }

    private var worker: String {
        switch start {
        case .claimed(let worker), .redriven(let worker): worker
        }
    }

    private func marker(earlier: Int) -> String {
        let range = earlier == 1 ? "line 1" : "lines 1–\(earlier)"
        switch start {
        case .claimed(let worker):
            return "[lockstep] \(worker) took this attempt over (same try): \(range) came before, from an execution that ended "
                + "without a result (its worker died or stopped renewing its claim); the lines below are this execution's"
        case .redriven(let worker):
            return "[lockstep] \(worker) runs this attempt again (a redriven dead letter, same try): \(range) came before, from "
                + "its earlier execution; the lines below are this execution's"
        }
    }
}
