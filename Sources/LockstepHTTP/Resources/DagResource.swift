import Foundation
import LockstepCore

/// A DAG as the API shows it, in the shape and names of Airflow's `/api/v2/dags` where they mean the
/// same (`dag_id`, `is_paused`, `timetable_summary`, `next_dagrun_logical_date`, `tags`).
enum DagResource {
    static func summary(_ dag: DagSpec, paused: Bool, latestRuns: [(id: String, state: String)], now: Date) -> JSONValue {
        var o = JSONFields()
        o.set("dag_id", dag.id)
        o.set("description", dag.description.isEmpty ? nil : dag.description)
        o.set("owners", [dag.owner])
        o["tags"] = .array(dag.tags.map { ["name": .string($0)] })
        o.set("is_paused", paused)
        o.set("timetable_summary", dag.schedule)
        o.set("timezone", dag.timezone)
        o.set("catchup", dag.catchup)
        o.set("max_active_runs", dag.maxActiveRuns)
        o.set("next_dagrun_logical_date", paused ? nil : nextFire(dag, after: now))
        o.set("trigger_on", dag.triggerOn)
        o["latest_dag_runs"] = .array(latestRuns.map { ["dag_run_id": .string($0.id), "state": .string($0.state)] })
        return o.json
    }

    /// The summary plus params, tasks and edges.
    static func detail(_ dag: DagSpec, paused: Bool, latestRuns: [(id: String, state: String)], now: Date) -> JSONValue {
        guard case .object(var o) = summary(dag, paused: paused, latestRuns: latestRuns, now: now) else { return .null }
        var params: [String: JSONValue] = [:]
        for (name, spec) in dag.params {
            var p = JSONFields()
            p.set("type", spec.type.rawValue)
            p.set("required", spec.required)
            p["default"] = spec.default
            p.set("description", spec.description.isEmpty ? nil : spec.description)
            params[name] = p.json
        }
        o["params"] = .object(params)
        var downstream: [String: [String]] = [:]
        for task in dag.tasks { for up in task.upstream { downstream[up, default: []].append(task.id) } }
        o["tasks"] = .array(dag.tasks.map { task in
            var t = JSONFields()
            t.set("task_id", task.id)
            t.set("operator", task.operator)
            t.set("upstream_task_ids", task.upstream)
            t.set("downstream_task_ids", downstream[task.id] ?? [])
            t.set("trigger_rule", task.triggerRule.rawValue)
            t.set("pool", task.pool)
            t.set("retries", task.retry.retries)
            t.set("retry_delay", task.retry.delay.secondsValue)
            t.set("retry_exponential_backoff", task.retry.exponentialBackoff)
            t.set("execution_timeout", task.timeout?.secondsValue)
            t.set("depends_on_past", task.dependsOnPast)
            t["params"] = .object(task.params)
            return t.json
        })
        o["edges"] = .array(dag.tasks.flatMap { task in
            task.upstream.map { ["source_task_id": .string($0), "target_task_id": .string(task.id)] }
        })
        return .object(o)
    }

    static func nextFire(_ dag: DagSpec, after now: Date) -> Date? {
        guard let text = dag.schedule, let zone = TimeZone(identifier: dag.timezone), let schedule = try? CronSchedule(text, timeZone: zone) else {
            return nil
        }
        return schedule.next(after: now)
    }
}
