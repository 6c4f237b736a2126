import CoreMetrics
import Foundation

/// What a component process counts of its own work, through swift-metrics: the worker's attempts,
/// the coordinator's batches and commits, the scheduler's ticks, every component's dead letters.
/// A `--metrics HOST:PORT` endpoint (LockstepHTTP's `ComponentMetricsServer`) exposes them with
/// this process's health and resource use; without one the factory is swift-metrics' no-op.
///
/// The API's `/metrics` shows the system as the topics tell it (every run, every DAG); these are
/// one process's view, labelled by component, for finding which process is slow or failing.
/// Prometheus conventions: base units, `_total` counters, no run ids in labels.
public struct ComponentMetrics: Sendable {
    let factory: any MetricsFactory

    public static let attemptDuration = "lockstep_worker_attempt_duration_seconds"
    public static let commitDuration = "lockstep_coordinator_commit_duration_seconds"
    public static let batchEvents = "lockstep_coordinator_batch_events"

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
    }

    /// A task attempt this worker ran to an outcome (`succeeded`, `failed`, `timed_out`).
    func attemptFinished(component: String, queue: String, outcome: String, seconds: Double) {
        Counter(label: "lockstep_worker_attempts_total", dimensions: [("component", component), ("queue", queue), ("outcome", outcome)], factory: factory)
            .increment()
        Recorder(label: Self.attemptDuration, dimensions: [("component", component), ("queue", queue)], aggregate: true, factory: factory)
            .record(seconds)
    }

    /// One batch of records the coordinator consumed together: the events its commit wrote to the
    /// outbox, and how long the commit took.
    func coordinatorBatch(events: Int, commitSeconds: Double) {
        Recorder(label: Self.batchEvents, aggregate: true, factory: factory).record(events)
        Recorder(label: Self.commitDuration, aggregate: true, factory: factory).record(commitSeconds)
    }

    func tickPublished(dagID: String) {
        Counter(label: "lockstep_scheduler_ticks_published_total", dimensions: [("dag_id", dagID)], factory: factory).increment()
    }

    func deadLettered(component: String, topic: String) {
        Counter(label: "lockstep_component_deadletters_total", dimensions: [("component", component), ("topic", topic)], factory: factory)
            .increment()
    }
}
