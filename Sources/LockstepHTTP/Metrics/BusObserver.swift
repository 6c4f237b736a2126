import Foundation
import LockstepBus
import LockstepCore
import LockstepServices
import LockstepWire

/// The API process's own view of the bus: a consumer group of its own (one per process, reading
/// from the end at start) over the topics whose events feed the metrics, the components' liveness
/// and live updates for browsers. The components' code stays as it is: everything here is derived
/// from the events they publish anyway.
actor BusObserver {
    let runtime: Runtime
    let metrics: APIMetrics
    let group: String
    /// One past the highest offset seen per topic and partition: the end of the log as last observed.
    private(set) var ends: [String: [Int32: Int64]] = [:]
    /// CloudEvent `source` (`lockstep/<component>/<instance>`) → when it last published.
    private(set) var lastSeen: [String: Date] = [:]
    private(set) var startedAt: Date?
    /// When each dispatched attempt was scheduled, until it starts (the queued time); bounded.
    private var scheduled: [String: Date] = [:]
    private var listeners: [UUID: AsyncStream<CloudEvent>.Continuation] = [:]
    private var consumer: (any GroupConsumer)?
    private var stopped = false

    init(runtime: Runtime, metrics: APIMetrics) {
        self.runtime = runtime
        self.metrics = metrics
        group = "lockstep-api-observer-\(runtime.instance)"
    }

    var topics: [String] {
        let t = runtime.topics
        return [t.runEvents, t.deadLetters, t.scheduleTicks, t.runRequests, t.ops, t.taskResults, t.taskCommands, t.notifications]
    }

    static let maxBatch = 256
    /// The pause after a batch that emptied what had arrived. While records keep coming, the observer
    /// then takes them in batches instead of waking for every append: each wake is a thread hand-off
    /// on the same cores that run the components (in `lockstep standalone`). Browsers' live views and
    /// the metrics lag by at most this; the first record after a quiet spell is read at once.
    static let pace = Duration.milliseconds(20)

    /// Consumes until cancelled. Offsets are not committed: each start reads from the end again.
    func run() async throws {
        try await runtime.createTopics()
        let consumer = try await runtime.bus.subscribe(group: group, topics: topics)
        self.consumer = consumer
        if stopped { await consumer.close(); return }
        try await consumer.seek(.end)
        startedAt = runtime.clock.now
        defer { for listener in listeners.values { listener.finish() } }
        do {
            while !Task.isCancelled {
                let batch = try await consumer.nextBatch(max: Self.maxBatch)
                if batch.isEmpty { break }
                for record in batch { observe(record) }
                if batch.count < Self.maxBatch { try await Task.sleep(for: Self.pace) }
            }
        } catch {
            await consumer.close()
            if Task.isCancelled { return }
            throw error
        }
        await consumer.close()
    }

    /// Ends `run()`: closing the consumer makes its wait return.
    func stop() async {
        stopped = true
        await consumer?.close()
    }

    private func observe(_ record: BusRecord) {
        let position = record.position
        ends[position.topic, default: [:]][position.partition] = max(ends[position.topic]?[position.partition] ?? 0, position.offset + 1)
        let t = runtime.topics
        // Of the other topics' records (commands, results, requests: most of the traffic) only the
        // publisher counts, and a binary-mode record names it in a header: decoding the whole event
        // and its JSON for that was 8–9 % of a busy standalone's CPU (docs/performance.md).
        if ![t.runEvents, t.deadLetters, t.scheduleTicks].contains(position.topic),
           let source = record.headers.first(where: { $0.name == "ce_source" }) {
            lastSeen[String(decoding: source.value, as: UTF8.self)] = record.timestamp
            return
        }
        guard let event = try? CloudEvent(record) else { return }
        lastSeen[event.source] = record.timestamp
        switch position.topic {
        case t.runEvents:
            lifecycle(event)
            for listener in listeners.values { listener.yield(event) }
        case t.deadLetters:
            metrics.deadLetter(component: event.data?["component"]?.stringValue ?? "unknown",
                               topic: event.data?["original"]?["topic"]?.stringValue ?? "unknown")
        case t.scheduleTicks:
            if let dag = event.data?["dag_id"]?.stringValue { metrics.scheduleTick(dagID: dag) }
        default:
            break
        }
    }

    private func lifecycle(_ event: CloudEvent) {
        guard let data = event.data, let dag = data["dag_id"]?.stringValue else { return }
        let seconds = data["duration_ms"]?.intValue.map { Double($0) / 1000 }
        let task = data["task_id"]?.stringValue
        let attempt = "\(data["run_id"]?.stringValue ?? "")/\(task ?? "")#\(data["try_number"]?.intValue ?? 0)"
        let at = data["at"]?.stringValue.flatMap(ISO8601.parse)
        switch event.type {
        case EventType.lifecycle(.runSucceeded): metrics.runFinished(dagID: dag, outcome: "succeeded", seconds: seconds)
        case EventType.lifecycle(.runFailed): metrics.runFinished(dagID: dag, outcome: "failed", seconds: seconds)
        case EventType.lifecycle(.runCancelled): metrics.runFinished(dagID: dag, outcome: "cancelled", seconds: seconds)
        case EventType.lifecycle(.taskScheduled):
            if let at {
                if scheduled.count > 10_000 { scheduled.removeAll() }
                scheduled[attempt] = at
            }
        case EventType.lifecycle(.taskStarted):
            if let task, let at, let since = scheduled.removeValue(forKey: attempt) {
                metrics.queued(dagID: dag, taskID: task, seconds: max(0, at.timeIntervalSince(since)))
            }
        case EventType.lifecycle(.taskSucceeded), EventType.lifecycle(.taskFailed), EventType.lifecycle(.taskUpForRetry):
            if let task {
                let state = String(event.type.dropFirst("lockstep.task.".count))
                metrics.attemptFinished(dagID: dag, taskID: task, state: state, seconds: seconds)
            }
        default:
            break
        }
    }

    /// Run and task lifecycle events as they arrive, for server-sent events. A slow reader loses the
    /// oldest events beyond 1,000 rather than holding the observer back.
    func subscribe() -> AsyncStream<CloudEvent> {
        let (stream, continuation) = AsyncStream<CloudEvent>.makeStream(bufferingPolicy: .bufferingNewest(1000))
        let id = UUID()
        listeners[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return stream
    }

    private func unsubscribe(_ id: UUID) { listeners[id] = nil }

    /// Records behind the end of each topic per consumer group, where the end has been observed.
    func lag(groups: [(group: String, topics: [String])]) async throws -> [(group: String, topic: String, records: Int64)] {
        var out: [(String, String, Int64)] = []
        for (group, topics) in groups {
            for topic in topics {
                guard let end = ends[topic] else { continue }
                let committed = try await runtime.bus.committedOffsets(group: group, topic: topic)
                guard !committed.isEmpty else { continue }
                let behind = end.reduce(Int64(0)) { sum, entry in sum + max(0, entry.value - (committed[entry.key] ?? 0)) }
                out.append((group, topic, behind))
            }
        }
        return out
    }
}
