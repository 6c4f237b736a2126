import Foundation
import LockstepBus
import LockstepCore
import LockstepWire
import Logging
import ServiceLifecycle

/// Publishes a schedule tick for every cron firing. Tick ids are `dag@logical-date`, so two schedulers
/// or a restart publish the same id and the coordinator starts one run. Paused DAGs get no ticks.
///
/// On a DAG's first start the scheduler begins from now (no run for the interval that just passed),
/// unless the DAG has `catchup: true` and a `start_date`, in which case every interval since then runs.
public final class Scheduler: Service, Sendable {
    let runtime: Runtime
    /// How often to look again when no firing is sooner (picks up pauses).
    let pollInterval: Duration

    public init(runtime: Runtime, pollInterval: Duration = .seconds(30)) {
        self.runtime = runtime
        self.pollInterval = pollInterval
    }

    public func run() async throws {
        try await runtime.createTopics()
        var last = try await runtime.store.lastTicks()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let now = runtime.clock.now
            let paused = try await runtime.store.pausedDags()
            var nextFire: Date?
            for dag in runtime.dags {
                guard let text = dag.schedule, let zone = TimeZone(identifier: dag.timezone),
                    let schedule = try? CronSchedule(text, timeZone: zone)
                else { continue }
                if dag.paused || paused.contains(dag.id) { continue }
                if last[dag.id] == nil && !(dag.catchup && dag.startDate != nil) {
                    last[dag.id] = schedule.previous(atOrBefore: now) ?? now
                    try await runtime.store.recordTick(dagID: dag.id, logicalDate: last[dag.id]!)
                }
                for logical in schedule.dueTicks(lastTick: last[dag.id], now: now, catchup: dag.catchup, startDate: dag.startDate) {
                    try await tick(dag.id, logical)
                    last[dag.id] = logical
                    try await runtime.store.recordTick(dagID: dag.id, logicalDate: logical)
                }
                if let next = schedule.next(after: now), nextFire.map({ next < $0 }) ?? true { nextFire = next }
            }
            // The next firing, or the next look at pauses; never a busy loop on a firing just missed.
            let poll = runtime.clock.now.addingTimeInterval(pollInterval.timeInterval)
            let wake = max(min(nextFire ?? poll, poll), runtime.clock.now.addingTimeInterval(0.01))
            try? await runtime.clock.sleep(until: wake)
        }
    }

    func tick(_ dagID: String, _ logicalDate: Date) async throws {
        let tick = ScheduleTick(dagID: dagID, logicalDate: logicalDate)
        let (type, data) = WireCodec.encode(.scheduleTick(tick))
        let event = runtime.event(id: tick.runID, component: "scheduler", type: type, subject: dagID, data: data)
        try await runtime.publish(event, to: runtime.topics.scheduleTicks, key: dagID)
        runtime.logger.info("tick \(tick.runID)")
    }
}
