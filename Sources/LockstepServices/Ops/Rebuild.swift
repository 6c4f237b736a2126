import Foundation
import LockstepBus
import LockstepCore
import LockstepWire

/// Recomputes the run state from the topics the coordinator consumes, for a lost or damaged store.
/// The same log gives the same state, so rebuilding twice gives identical state. Run it with the
/// coordinator stopped.
public struct Rebuild: Sendable {
    public let runtime: Runtime

    public init(runtime: Runtime) { self.runtime = runtime }

    /// Every engine input on the coordinator's topics, in a deterministic order: record time, then
    /// topic, partition and offset.
    public func inputs() async throws -> [(EngineEvent, Date)] {
        var collected: [(event: EngineEvent, time: Date, order: (Int, Int32, Int64))] = []
        for (index, topic) in runtime.topics.coordinatorInputs.enumerated() {
            let records = try await runtime.bus.read(topic: topic, from: .beginning, to: .latest).readAll()
            for record in records {
                guard let cloudEvent = try? CloudEvent(record), let event = try? WireCodec.decodeEngineEvent(cloudEvent) else { continue }
                collected.append((event, record.timestamp, (index, record.position.partition, record.position.offset)))
            }
        }
        collected.sort { ($0.time, $0.order.0, $0.order.1, $0.order.2) < ($1.time, $1.order.0, $1.order.1, $1.order.2) }
        return collected.map { ($0.event, $0.time) }
    }

    /// The state and armed timers the inputs lead to.
    public func replay() async throws -> (EngineState, [TimerID: Date], events: Int) {
        let engine = Engine(dags: runtime.dags, config: runtime.config)
        var state = EngineState()
        var timers: [TimerID: Date] = [:]
        let inputs = try await inputs()
        for (event, time) in inputs {
            if case .timerFired(let t) = event { timers[t] = nil }
            for command in engine.apply(event, to: &state, now: time) {
                switch command {
                case .startTimer(let t, let at): timers[t] = at
                case .cancelTimer(let t): timers[t] = nil
                default: break
                }
            }
        }
        return (state, timers, inputs.count)
    }

    /// Replaces the store's engine state with the rebuilt one.
    @discardableResult
    public func run() async throws -> (runs: Int, events: Int) {
        let (state, timers, count) = try await replay()
        try await runtime.store.replaceEngine(state: state, timers: timers)
        return (state.runs.count, count)
    }
}
