import Foundation
import Hummingbird
import LockstepCore

/// The seed's monitoring figures over recent runs (`lockstep stats`): success rates, run and task
/// durations, queue times, error patterns.
struct StatsRoutes {
    let env: APIEnvironment

    func register(_ routes: RouteTable) {
        routes.add(.get, "/api/v1/stats", role: .viewer, action: "reading statistics") { request, _, _ in
            var limit = 500
            if let text = request.query("limit") {
                guard let n = Int(text), (1...10_000).contains(n) else {
                    throw Problem.badRequest("invalid-parameter", "`limit` must be a whole number from 1 to 10000, not `\(text)`", field: "limit")
                }
                limit = n
            }
            let dagID = try request.query("dag_id").map { try env.dag($0).id }
            let stats = RunStatistics(runs: try await env.runtime.store.runs(dagID: dagID, limit: limit))
            return env.json.response([
                "dags": .array(stats.dags.map { d in
                    var o = JSONFields()
                    o.set("dag_id", d.dagID)
                    o.set("runs", d.runs)
                    o.set("succeeded", d.succeeded)
                    o.set("failed", d.failed)
                    o.set("cancelled", d.cancelled)
                    o.set("active", d.active)
                    o.set("success_rate", d.successRate)
                    o["run_duration"] = percentiles(d.runDuration)
                    o["tasks"] = .array(d.tasks.map { t in
                        var p = JSONFields()
                        p.set("task_id", t.taskID)
                        p.set("attempts", t.attempts)
                        p.set("retries", t.retries)
                        p["duration"] = percentiles(t.duration)
                        p["queued_duration"] = percentiles(t.queueTime)
                        return p.json
                    })
                    return o.json
                }),
                "errors": .array(stats.errors.prefix(50).map {
                    ["dag_id": .string($0.dagID), "task_id": .string($0.taskID), "category": .string($0.category),
                     "count": .int(Int64($0.count)), "last_message": .string($0.lastMessage)]
                }),
            ])
        }
    }

    /// Seconds.
    private func percentiles(_ p: RunStatistics.Percentiles?) -> JSONValue {
        guard let p else { return .null }
        return ["p50": .double(p.p50), "p95": .double(p.p95), "max": .double(p.max)]
    }
}
