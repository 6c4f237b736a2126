import Foundation
import LockstepBus
import LockstepCore
import LockstepWire

/// Reruns what a range of a topic held: every run request or schedule tick in the range becomes a new
/// run request that names the event it replays (`replayof`), so each is a new run — never a silent
/// no-op, never a duplicate of an effect subscribers already saw.
public struct Replay: Sendable {
    public enum Start: Sendable, Hashable {
        case time(Date)
        case offset(partition: Int32, offset: Int64)
    }
    public enum End: Sendable, Hashable {
        case latest
        case time(Date)
        case offset(partition: Int32, offset: Int64)
    }

    /// One event to replay and the request that reruns it.
    public struct Item: Sendable {
        public var original: CloudEvent
        public var position: RecordPosition
        public var timestamp: Date
        public var request: RunRequest
    }

    public let runtime: Runtime

    public init(runtime: Runtime) { self.runtime = runtime }

    /// Why only the request topics can be replayed.
    public func checkReplayable(_ topic: String) throws {
        guard topic == runtime.topics.runRequests || topic == runtime.topics.scheduleTicks else {
            throw OpsError("""
                \(topic) cannot be replayed: task results and lifecycle events record what happened, and the \
                coordinator ignores results for attempts that already finished, so replaying them would rerun nothing. \
                Replay \(runtime.topics.runRequests) or \(runtime.topics.scheduleTicks) to rerun runs, or use \
                `lockstep rebuild` to recompute the run state from the topics.
                """)
        }
    }

    /// What a replay of the range would rerun; `batch` makes the new run ids unique to this replay.
    public func plan(topic: String, from start: Start, to end: End, dagID: String? = nil, batch: String) async throws -> [Item] {
        try checkReplayable(topic)
        let seek: SeekTarget
        switch start {
        case .time(let t): seek = .timestamp(t)
        case .offset(let p, let o): seek = .offset(partition: p, offset: o)
        }
        let readEnd: ReadEnd
        switch end {
        case .latest: readEnd = .latest
        case .time(let t): readEnd = .timestamp(t)
        case .offset(let p, let o): readEnd = .offset(partition: p, offset: o)
        }
        let records = try await runtime.bus.read(topic: topic, from: seek, to: readEnd).readAll()
        var items: [Item] = []
        for record in records {
            // Brokers whose offset-for-time lookup is imprecise may return earlier records: filter again.
            if case .time(let t) = start, record.timestamp < t { continue }
            if case .time(let t) = end, record.timestamp > t { continue }
            if case .offset(let p, let o) = start, record.position.partition == p, record.position.offset < o { continue }
            guard let event = try? CloudEvent(record), let original = try? WireCodec.decodeEngineEvent(event) else { continue }
            let request: RunRequest
            switch original {
            case .runRequested(let r): request = r
            case .scheduleTick(let t): request = RunRequest(runID: t.runID, dagID: t.dagID, logicalDate: t.logicalDate)
            default: continue
            }
            if let dagID, request.dagID != dagID { continue }
            let rerun = RunRequest(
                runID: .replay(of: request.runID, batch: batch), dagID: request.dagID, logicalDate: request.logicalDate,
                conf: request.conf, trigger: .replay(of: event.id))
            items.append(Item(original: event, position: record.position, timestamp: record.timestamp, request: rerun))
        }
        return items
    }

    /// Publishes the planned requests and records the replay on the ops topic.
    public func execute(_ items: [Item], topic: String, ops: OpsActions) async throws {
        for item in items {
            try await ops.requestRun(item.request, replayOf: item.original.id)
        }
        try await ops.audit("replay", target: topic, details: [
            "count": .int(Int64(items.count)),
            "replayed": .array(items.map { .string($0.original.id) }),
            "runs": .array(items.map { .string($0.request.runID) }),
        ])
    }
}
