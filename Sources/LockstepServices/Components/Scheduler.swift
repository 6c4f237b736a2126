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

    static let component = "scheduler"

    /// Every store read and write and every tick is tried again while the store or the broker is
    /// away: a tick's id is its run id, so one published twice starts one run, and a tick recorded
    /// late is only published again (the same id) if the scheduler restarts before recording it.
    public func run() async throws {
        try await runtime.withHeartbeat(Self.component, kind: .scheduler) {
            try await runtime.createTopicsPersistently(Self.component)
            var last = try await persistently("reading the last ticks") { try await runtime.store.lastTicks() }
            runtime.health.set(Self.component, .running)
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                let wake: Date
                do { wake = try await schedule(&last) } catch is CancellationError { break }
                // Up to the next firing (or the poll interval) away: a SIGTERM must not wait for it.
                let clock = runtime.clock
                try? await cancelWhenGracefulShutdown { try await clock.sleep(until: wake) }
            }
        }
    }

    /// Publishes the ticks due now; returns when to look again: the next firing, or the next look at
    /// pauses, and never a busy loop on a firing just missed.
    private func schedule(_ last: inout [String: Date]) async throws -> Date {
        let now = runtime.clock.now
        let paused = try await persistently("reading paused DAGs") { try await runtime.store.pausedDags() }
        var nextFire: Date?
        for dag in runtime.dags {
            guard let text = dag.schedule, let zone = TimeZone(identifier: dag.timezone),
                let schedule = try? CronSchedule(text, timeZone: zone)
            else { continue }
            if dag.paused || paused.contains(dag.id) { continue }
            if last[dag.id] == nil && !(dag.catchup && dag.startDate != nil) {
                let start = schedule.previous(atOrBefore: now) ?? now
                last[dag.id] = start
                try await persistently("recording the first tick of \(dag.id)") { try await runtime.store.recordTick(dagID: dag.id, logicalDate: start) }
            }
            for logical in schedule.dueTicks(lastTick: last[dag.id], now: now, catchup: dag.catchup, startDate: dag.startDate) {
                try await tick(dag.id, logical)
                last[dag.id] = logical
                try await persistently("recording the tick of \(dag.id) at \(ISO8601.format(logical))") {
                    try await runtime.store.recordTick(dagID: dag.id, logicalDate: logical)
                }
            }
            if let next = schedule.next(after: now), nextFire.map({ next < $0 }) ?? true { nextFire = next }
        }
        let poll = runtime.clock.now.addingTimeInterval(pollInterval.timeInterval)
        return max(min(nextFire ?? poll, poll), runtime.clock.now.addingTimeInterval(0.01))
    }

    private func persistently<T: Sendable>(_ what: String, _ operation: () async throws -> T) async throws -> T {
        try await runtime.persistently(Self.component, what, operation)
    }

    func tick(_ dagID: String, _ logicalDate: Date) async throws {
        let tick = ScheduleTick(dagID: dagID, logicalDate: logicalDate)
        let (type, data) = WireCodec.encode(.scheduleTick(tick))
        let event = runtime.event(id: tick.runID, component: Self.component, type: type, subject: dagID, data: data)
        try await runtime.publishPersistently(Self.component, event, to: runtime.topics.scheduleTicks, key: dagID)
        runtime.metrics.tickPublished(dagID: dagID)
        runtime.logger.info("tick \(tick.runID)")
    }
}
