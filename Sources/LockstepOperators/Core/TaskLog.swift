import Foundation
import LockstepCore

/// One attempt's log as the operator writes it: numbers lines, masks secrets, caps the attempt's
/// volume and hands lines to a `TaskLogSink` in batches, off the writer's path.
///
/// `write` never blocks on the sink and never suspends, so a program printing 100,000 lines is read as
/// fast as it writes: lines beyond the cap are counted and dropped, and one marker line says where the
/// log was cut. The owner of the attempt (the worker) calls `finish()` once the operator returned, to
/// push out what is still buffered.
public final class TaskLog: @unchecked Sendable {
    // @unchecked: every stored `var` is read and written only with `lock` held; `sink`, `limits`,
    // `clock` and `attempt` are immutable.

    public struct Limits: Sendable, Hashable {
        /// Lines kept per attempt; then one truncation marker.
        public var maxLines: Int
        /// Bytes of text kept per attempt; then one truncation marker.
        public var maxBytes: Int
        /// A longer line is cut, saying how much was cut.
        public var maxLineBytes: Int
        /// Lines per `append` call.
        public var batchLines: Int
        /// How long a line may wait for its batch to fill before it is sent anyway.
        public var flushInterval: Duration

        public init(maxLines: Int = 10_000, maxBytes: Int = 5 << 20, maxLineBytes: Int = 16 << 10,
                    batchLines: Int = 500, flushInterval: Duration = .milliseconds(100)) {
            self.maxLines = maxLines
            self.maxBytes = maxBytes
            self.maxLineBytes = maxLineBytes
            self.batchLines = max(1, batchLines)
            self.flushInterval = flushInterval
        }
    }

    /// What happened to the attempt's lines, once `finish()` returned.
    public struct Summary: Sendable, Hashable {
        /// Lines handed to the sink (the truncation marker included).
        public var written: Int
        /// Lines dropped: past the cap, or written after `finish`.
        public var dropped: Int
        public var truncated: Bool
        /// Batches the sink refused twice; their lines are lost.
        public var failedBatches: Int
        public var lastSinkError: String?

        public init(written: Int, dropped: Int, truncated: Bool, failedBatches: Int, lastSinkError: String?) {
            self.written = written
            self.dropped = dropped
            self.truncated = truncated
            self.failedBatches = failedBatches
            self.lastSinkError = lastSinkError
        }
    }

    public let attempt: AttemptID
    private let sink: (any TaskLogSink)?
    private let limits: Limits
    private let clock: @Sendable () -> Date

    private let lock = NSLock()
    private var mask = SecretMask()
    private var nextSeq = 1
    private var bytes = 0
    private var truncated = false
    private var dropped = 0
    private var pending: [TaskLogLine] = []
    private var closed = false
    private var flusher: Task<Void, Never>?
    /// The flusher, parked until there is something to send.
    private var idle: CheckedContinuation<Void, Never>?
    /// The flusher's pause while a batch fills; cancelled to send at once.
    private var window: Task<Void, Never>?
    private var failedBatches = 0
    private var lastSinkError: String?

    /// A log whose lines go to `sink`; with no sink every line is discarded at once.
    public init(attempt: AttemptID, sink: (any TaskLogSink)?, limits: Limits = Limits(),
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.attempt = attempt
        self.sink = sink
        self.limits = limits
        self.clock = clock
    }

    /// A log that keeps nothing: the default when the caller gives no sink.
    public static func discarding(_ attempt: AttemptID) -> TaskLog { TaskLog(attempt: attempt, sink: nil) }

    /// Whether lines are kept anywhere; false for `discarding`.
    public var isRecording: Bool { sink != nil }

    /// Masks these secrets in every line written from now on.
    public func protect(_ secrets: SecretMask) {
        lock.withLock { mask.formUnion(secrets) }
    }

    /// The secrets this log masks, for masking what the operator reports elsewhere (errors, outputs).
    public var secrets: SecretMask { lock.withLock { mask } }

    public func info(_ text: String) { write(text, stream: .operator) }
    public func warning(_ text: String) { write("warning: \(text)", stream: .operator) }
    public func error(_ text: String) { write("error: \(text)", stream: .operator) }

    /// Appends `text` (split at newlines into lines) to the attempt's log. Thread-safe; never blocks on the sink.
    public func write(_ text: String, stream: TaskLogStream) {
        guard sink != nil else { return }
        let parts = text.split(separator: "\n", omittingEmptySubsequences: false)
        let lines = parts.count > 1 && parts.last?.isEmpty == true ? Array(parts.dropLast()) : parts
        let mask: SecretMask? = lock.withLock {
            if closed || truncated { dropped += lines.count; return nil }
            return self.mask
        }
        guard let mask else { return }
        let time = clock()
        let masked = lines.map { cut(mask.apply(String($0))) }
        lock.withLock {
            for (index, line) in masked.enumerated() {
                if closed || truncated { dropped += masked.count - index; break }
                let size = line.utf8.count
                if nextSeq > limits.maxLines || bytes + size > limits.maxBytes {
                    truncated = true
                    dropped += masked.count - index
                    pending.append(TaskLogLine(seq: nextSeq, time: time, stream: .operator, text:
                        "[lockstep] log truncated: this attempt's log keeps at most \(limits.maxLines) lines or "
                        + "\(limits.maxBytes) bytes; later lines are dropped (the attempt goes on)"))
                    nextSeq += 1
                    break
                }
                pending.append(TaskLogLine(seq: nextSeq, time: time, stream: stream, text: line))
                nextSeq += 1
                bytes += size
            }
            wakeFlusher()
        }
    }

    /// Sends what is buffered, stops the flusher and says what became of the attempt's lines. Lines
    /// written afterwards are dropped.
    @discardableResult
    public func finish() async -> Summary {
        let running: Task<Void, Never>? = lock.withLock {
            closed = true
            idle?.resume()
            idle = nil
            window?.cancel()
            return flusher
        }
        await running?.value
        return lock.withLock {
            Summary(written: nextSeq - 1, dropped: dropped, truncated: truncated, failedBatches: failedBatches,
                    lastSinkError: lastSinkError)
        }
    }

    // Called with `lock` held.
    private func wakeFlusher() {
        guard !pending.isEmpty else { return }
        if flusher == nil {
            flusher = Task { await self.flushLoop() }
        } else if let idle {
            self.idle = nil
            idle.resume()
        }
        if pending.count >= limits.batchLines { window?.cancel() }
    }

    private func flushLoop() async {
        while true {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                lock.withLock {
                    if pending.isEmpty && !closed { idle = continuation } else { continuation.resume() }
                }
            }
            let pause: Task<Void, Never>? = lock.withLock {
                guard !closed, pending.count < limits.batchLines else { return nil }
                let interval = limits.flushInterval
                let task = Task { _ = try? await Task.sleep(for: interval) }
                window = task
                return task
            }
            await pause?.value
            let batch: [TaskLogLine] = lock.withLock {
                window = nil
                defer { pending.removeAll(keepingCapacity: true) }
                return pending
            }
            var start = 0
            while start < batch.count {
                let end = min(start + limits.batchLines, batch.count)
                await deliver(Array(batch[start..<end]))
                start = end
            }
            if lock.withLock({ closed && pending.isEmpty }) { return }
        }
    }

    /// One retry after a short pause rides out a store blip; a batch refused twice is counted as lost.
    private func deliver(_ lines: [TaskLogLine]) async {
        guard let sink else { return }
        do {
            try await sink.append(lines, attempt: attempt)
        } catch {
            try? await Task.sleep(for: .milliseconds(200))
            do {
                try await sink.append(lines, attempt: attempt)
            } catch {
                lock.withLock {
                    failedBatches += 1
                    lastSinkError = mask.apply(String(describing: error))
                }
            }
        }
    }

    private func cut(_ line: String) -> String {
        let size = line.utf8.count
        guard size > limits.maxLineBytes else { return line }
        let kept = String(decoding: line.utf8.prefix(limits.maxLineBytes), as: UTF8.self)
        return kept + "… [\(size - limits.maxLineBytes) more bytes cut]"
    }
}
