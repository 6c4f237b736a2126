import Foundation
import LockstepCore

/// A run as the API shows it, named as Airflow's DAG run (`dag_run_id`, `logical_date`, `queued_at`,
/// `start_date`, `end_date`, `run_type`, `conf`) and task instance (`task_id`, `try_number`,
/// `max_tries`, `duration`), plus what Airflow lacks: each try, outputs, warnings and the cause.
enum RunResource {
    static func summary(_ run: DagRun) -> JSONValue {
        var o = JSONFields()
        o.set("dag_run_id", run.id)
        o.set("dag_id", run.dagID)
        o.set("logical_date", run.logicalDate)
        o.set("queued_at", run.requestedAt)
        o.set("start_date", run.startedAt)
        o.set("end_date", run.finishedAt)
        o.set("duration", run.startedAt.flatMap { s in run.finishedAt.map { (($0.timeIntervalSince(s)) * 1000).rounded() / 1000 } })
        o.set("state", run.state.rawValue)
        o.set("status_text", run.statusText)
        o.set("run_type", run.trigger.label)
        switch run.trigger {
        case .replay(let of): o.set("replay_of", of)
        case .upstream(let dag, let upstreamRun): o["triggered_by"] = ["dag_id": .string(dag), "dag_run_id": .string(upstreamRun)]
        default: break
        }
        o["conf"] = run.conf
        o.set("failure", run.failure)
        o.set("warnings", run.warnings)
        o.set("trace_id", run.trace?.traceID)
        return o.json
    }

    /// The summary plus every task instance and its tries, tasks in DAG order when the DAG is known.
    static func detail(_ run: DagRun, dag: DagSpec?) -> JSONValue {
        guard case .object(var o) = summary(run) else { return .null }
        let order = dag?.tasks.map(\.id) ?? []
        let known = order.filter { run.tasks[$0] != nil }
        let rest = run.tasks.keys.filter { !order.contains($0) }.sorted()
        o["task_instances"] = .array((known + rest).compactMap { run.tasks[$0] }.map { task in
            var t = JSONFields()
            t.set("task_id", task.taskID)
            t.set("state", task.state.rawValue)
            t.set("try_number", task.tryNumber)
            t.set("max_tries", task.maxTries)
            t.set("start_date", task.attempts.first?.startedAt ?? task.attempts.first?.scheduledAt)
            t.set("end_date", task.state.isTerminal ? task.attempts.last?.finishedAt : nil)
            t.set("duration", task.attempts.isEmpty ? nil : task.attempts.compactMap(\.duration).reduce(Duration.zero, +).secondsValue)
            t["output"] = task.output
            t.set("warnings", task.warnings)
            t.set("retry_at", task.retryAt)
            t.set("waiting_for", task.waitingFor)
            t["error"] = task.lastError.map(error)
            t["tries"] = .array(task.attempts.map { attempt in
                var a = JSONFields()
                a.set("try_number", attempt.tryNumber)
                a.set("scheduled_at", attempt.scheduledAt)
                a.set("start_date", attempt.startedAt)
                a.set("end_date", attempt.finishedAt)
                a.set("duration", attempt.duration?.secondsValue)
                a.set("queued_duration", attempt.startedAt.map { (($0.timeIntervalSince(attempt.scheduledAt)) * 1000).rounded() / 1000 })
                a.set("worker", attempt.worker)
                a.set("outcome", attempt.outcome?.rawValue)
                a["error"] = attempt.error.map(error)
                return a.json
            })
            return t.json
        })
        return .object(o)
    }

    static func error(_ failure: TaskFailure) -> JSONValue {
        ["message": .string(failure.message), "category": .string(failure.category), "retryable": .bool(failure.retryable)]
    }
}
