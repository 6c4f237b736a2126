import Foundation
import LockstepCore
import LockstepDrivers
import Logging

/// Sends finished spans to an OTLP/HTTP collector as JSON (`POST /v1/traces`), in batches, off the
/// path of the work that made them: `export` only queues, and one background task posts what is
/// queued. A collector that is away or slow costs spans, never time: each post has a hard deadline
/// (`HTTPClient`'s session timeouts), and what cannot be sent or queued is dropped, counted and
/// logged once per outage. With no endpoint it does nothing.
public final class SpanExporter: Sendable {
    /// What the exporter did so far.
    public struct Statistics: Sendable, Hashable {
        public var exported = 0
        public var dropped = 0
        /// Posts the collector refused or did not answer in time.
        public var failedPosts = 0
        public var queued = 0
        /// Whether a post is waiting for the collector's answer now.
        public var posting = false
    }

    public let endpoint: URL?
    let instance: String
    let timeout: Duration
    let maxQueued: Int
    let maxBatch: Int
    let logger: Logger
    private let state = Locked()
    private let wake: AsyncStream<Void>.Continuation
    private let loop: Task<Void, Never>?

    /// `timeout` bounds each post (OTLP's default is 10 s); at most `maxQueued` spans wait, beyond
    /// that new ones are dropped; a post carries at most `maxBatch`.
    public init(
        endpoint: URL?, instance: String, timeout: Duration = .seconds(10), maxQueued: Int = 4096, maxBatch: Int = 512,
        logger: Logger = Logger(label: "lockstep.tracing")
    ) {
        self.endpoint = endpoint
        self.instance = instance
        self.timeout = timeout
        self.maxQueued = maxQueued
        self.maxBatch = maxBatch
        self.logger = logger
        // One pending wake-up is enough: the loop takes everything queued each time it wakes.
        let (stream, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.wake = wake
        guard let endpoint else {
            loop = nil
            return
        }
        let (state, instance) = (state, instance)
        loop = Task { [timeout, maxBatch, logger] in
            for await _ in stream {
                while let batch = state.take(maxBatch) {
                    await Self.post(batch, to: endpoint, instance: instance, timeout: timeout, state: state, logger: logger)
                }
            }
        }
    }

    /// An exporter that exports nothing.
    public static func disabled() -> SpanExporter { SpanExporter(endpoint: nil, instance: "") }

    public var isEnabled: Bool { endpoint != nil }

    public var statistics: Statistics { state.statistics }

    /// Queues spans for the next post; never waits.
    public func export(_ spans: [Span]) {
        guard isEnabled, !spans.isEmpty else { return }
        let dropped = state.enqueue(spans, limit: maxQueued)
        if dropped > 0, state.beginOutage() {
            logger.warning("span export queue is full (\(maxQueued) spans): dropping spans until the collector at \(shown) catches up")
        }
        wake.yield()
    }

    public func export(_ span: Span) { export([span]) }

    /// Sends what is queued, waiting at most `grace`, then stops. What is left is dropped.
    public func shutdown(grace: Duration = .seconds(2)) async {
        wake.finish()
        guard let loop else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await loop.value }
            group.addTask { try? await Task.sleep(for: grace) }
            await group.next()
            group.cancelAll()
        }
        loop.cancel()
    }

    private var shown: String { endpoint.map { Redacted.uri($0.absoluteString) } ?? "-" }

    private static func post(_ spans: [Span], to endpoint: URL, instance: String, timeout: Duration, state: Locked, logger: Logger) async {
        let body = Data(OTLPJSON.request(spans, instance: instance).canonicalJSON().utf8)
        let shown = Redacted.uri(endpoint.absoluteString)
        var failure: String?
        do throws(DriverError) {
            let response = try await HTTPClient.send(
                method: "POST", url: endpoint, headers: ["Content-Type": "application/json", "Accept": "application/json"],
                body: body, timeout: timeout)
            if !response.isSuccess { failure = HTTPClient.statusError(response, method: "POST", url: endpoint).message }
        } catch {
            failure = error.message
        }
        if let failure {
            if state.finishPost(count: spans.count, succeeded: false) {
                logger.warning("span export failed, dropping spans while the collector is away (counted, logged once): \(failure)")
            }
        } else {
            _ = state.finishPost(count: spans.count, succeeded: true)
            if let dropped = state.endOutage() {
                logger.info("span export to \(shown) works again; \(dropped) spans were dropped so far")
            }
        }
    }
}

/// The queue and counters, shared by `export` callers and the posting task. @unchecked: every field
/// is read and written only with `lock` held.
private final class Locked: @unchecked Sendable {
    private let lock = NSLock()
    private var queue: [Span] = []
    private var stats = SpanExporter.Statistics()
    private var inOutage = false

    var statistics: SpanExporter.Statistics { lock.withLock { var s = stats; s.queued = queue.count; return s } }

    /// Queues what fits under `limit`; returns how many were dropped.
    func enqueue(_ spans: [Span], limit: Int) -> Int {
        lock.withLock {
            let room = max(0, limit - queue.count)
            queue.append(contentsOf: spans.prefix(room))
            let dropped = spans.count - min(room, spans.count)
            stats.dropped += dropped
            return dropped
        }
    }

    func take(_ max: Int) -> [Span]? {
        lock.withLock {
            guard !queue.isEmpty else { return nil }
            let batch = Array(queue.prefix(max))
            queue.removeFirst(batch.count)
            stats.posting = true
            return batch
        }
    }

    /// Records a post's end; true when a failure starts an outage (the one to log).
    func finishPost(count: Int, succeeded: Bool) -> Bool {
        lock.withLock {
            stats.posting = false
            if succeeded {
                stats.exported += count
                return false
            }
            stats.failedPosts += 1
            stats.dropped += count
            defer { inOutage = true }
            return !inOutage
        }
    }

    /// True when this starts an outage (the one to log).
    func beginOutage() -> Bool { lock.withLock { defer { inOutage = true }; return !inOutage } }

    /// Ends an outage; returns the spans dropped so far, or nil when there was none.
    func endOutage() -> Int? {
        lock.withLock {
            guard inOutage else { return nil }
            inOutage = false
            return stats.dropped
        }
    }
}
