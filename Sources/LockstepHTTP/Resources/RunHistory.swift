import Foundation
import LockstepBus
import LockstepCore
import LockstepServices
import LockstepWire

/// Every event about one run, in order, read back from the topics: its request, ops actions on it,
/// commands to workers, their results and timer firings, and the lifecycle events. What Temporal's
/// event history shows; Airflow keeps none of it.
struct RunHistory {
    let runtime: Runtime

    struct Entry: Sendable {
        var record: BusRecord
        var event: CloudEvent
        var topicOrder: Int
    }

    /// Topics in the order an event about a run passes through them, for ties in record time.
    private var topics: [String] {
        let t = runtime.topics
        return [t.runRequests, t.scheduleTicks, t.ops, t.taskCommands, t.notifications, t.taskResults, t.runEvents]
    }

    /// Reads from shortly before the run was requested, so history costs the run's time span, not the
    /// topics' whole length.
    func events(of run: DagRun) async throws -> [Entry] {
        let since = run.requestedAt.addingTimeInterval(-300)
        var entries: [Entry] = []
        for (order, topic) in topics.enumerated() {
            let records = try await runtime.bus.read(topic: topic, from: .timestamp(since), to: .latest).readAll()
            for record in records where record.timestamp >= since {
                guard let event = try? CloudEvent(record), belongs(event, record, to: run) else { continue }
                entries.append(Entry(record: record, event: event, topicOrder: order))
            }
        }
        return entries.sorted {
            ($0.record.timestamp, $0.topicOrder, $0.record.position.partition, $0.record.position.offset)
                < ($1.record.timestamp, $1.topicOrder, $1.record.position.partition, $1.record.position.offset)
        }
    }

    /// Keyed by the run id, or (requests and ticks, keyed by DAG) naming the run they start.
    private func belongs(_ event: CloudEvent, _ record: BusRecord, to run: DagRun) -> Bool {
        if record.key == run.id { return true }
        guard record.key == run.dagID else { return false }
        switch try? WireCodec.decodeEngineEvent(event) {
        case .runRequested(let request): return request.runID == run.id
        case .scheduleTick(let tick): return tick.runID == run.id
        default: return false
        }
    }

    static func json(_ entry: Entry) -> JSONValue {
        var o = JSONFields()
        o.set("topic", entry.record.position.topic)
        o.set("partition", Int(entry.record.position.partition))
        o["offset"] = .int(entry.record.position.offset)
        o.set("time", entry.record.timestamp)
        o.set("id", entry.event.id)
        o.set("type", entry.event.type)
        o.set("source", entry.event.source)
        o.set("subject", entry.event.subject)
        o["data"] = entry.event.data
        return o.json
    }
}
