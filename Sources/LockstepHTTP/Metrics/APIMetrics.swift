import CoreMetrics
import Foundation
import Metrics
import Prometheus

/// The API process's Prometheus metrics, through swift-metrics on a registry of its own (so several
/// servers in one process, as in tests, never mix their figures). Names follow Prometheus
/// conventions: base units (seconds), `_total` on counters, no run ids in labels.
public final class APIMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    static let runDuration = "lockstep_run_duration_seconds"
    static let taskDuration = "lockstep_task_attempt_duration_seconds"
    static let queuedTime = "lockstep_task_queued_seconds"
    static let requestDuration = "lockstep_api_request_duration_seconds"

    public init(version: String) {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let long: [Double] = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200]
        let short: [Double] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300]
        factory.valueHistogramBuckets = [
            Self.runDuration: long, Self.taskDuration: long, Self.queuedTime: short, Self.requestDuration: short,
        ]
        self.factory = factory
        Gauge(label: "lockstep_build_info", dimensions: [("version", version)], factory: factory).record(1)
    }

    /// The text exposition format.
    public func render() -> String { registry.emitToString() }

    func runFinished(dagID: String, outcome: String, seconds: Double?) {
        Counter(label: "lockstep_runs_finished_total", dimensions: [("dag_id", dagID), ("outcome", outcome)], factory: factory).increment()
        if let seconds {
            Recorder(label: Self.runDuration, dimensions: [("dag_id", dagID), ("outcome", outcome)], aggregate: true, factory: factory).record(seconds)
        }
    }

    /// Zero series for every DAG and outcome, so a dashboard's rate() has a start before the first run ends.
    func declare(dagIDs: [String]) {
        for dag in dagIDs {
            for outcome in ["succeeded", "failed", "cancelled"] {
                Counter(label: "lockstep_runs_finished_total", dimensions: [("dag_id", dag), ("outcome", outcome)], factory: factory).increment(by: 0)
            }
            Counter(label: "lockstep_schedule_ticks_total", dimensions: [("dag_id", dag)], factory: factory).increment(by: 0)
        }
    }

    func attemptFinished(dagID: String, taskID: String, state: String, seconds: Double?) {
        let labels = [("dag_id", dagID), ("task_id", taskID), ("state", state)]
        Counter(label: "lockstep_task_attempts_finished_total", dimensions: labels, factory: factory).increment()
        if let seconds { Recorder(label: Self.taskDuration, dimensions: labels, aggregate: true, factory: factory).record(seconds) }
    }

    func queued(dagID: String, taskID: String, seconds: Double) {
        Recorder(label: Self.queuedTime, dimensions: [("dag_id", dagID), ("task_id", taskID)], aggregate: true, factory: factory).record(seconds)
    }

    func deadLetter(component: String, topic: String) {
        Counter(label: "lockstep_deadletters_total", dimensions: [("component", component), ("topic", topic)], factory: factory).increment()
    }

    func scheduleTick(dagID: String) {
        Counter(label: "lockstep_schedule_ticks_total", dimensions: [("dag_id", dagID)], factory: factory).increment()
    }

    func pool(_ name: String, open: Int, used: Int, queued: Int) {
        Gauge(label: "lockstep_pool_open_slots", dimensions: [("pool", name)], factory: factory).record(open)
        Gauge(label: "lockstep_pool_used_slots", dimensions: [("pool", name)], factory: factory).record(used)
        Gauge(label: "lockstep_pool_queued_slots", dimensions: [("pool", name)], factory: factory).record(queued)
    }

    func consumerLag(group: String, topic: String, records: Int64) {
        Gauge(label: "lockstep_consumer_lag_records", dimensions: [("group", group), ("topic", topic)], factory: factory).record(records)
    }

    /// `route` is the documented path template, never the concrete path with ids in it.
    func request(method: String, route: String, status: Int, seconds: Double) {
        Counter(label: "lockstep_api_requests_total", dimensions: [("method", method), ("route", route), ("status", String(status))], factory: factory).increment()
        Recorder(label: Self.requestDuration, dimensions: [("method", method), ("route", route)], aggregate: true, factory: factory).record(seconds)
    }
}
