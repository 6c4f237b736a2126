import Foundation
import HTTPTypes
import Hummingbird
import LockstepCore
import LockstepServices

/// `/runs` and `/dags/{dag_id}/runs`: list with filters and a cursor, trigger, one run, cancel.
struct RunRoutes {
    let env: APIEnvironment

    func register(_ routes: RouteTable) {
        routes.add(.get, "/api/v1/runs", role: .viewer, action: "reading runs") { request, _, _ in
            var filter = try filter(request)
            if let dag = request.query("dag_id") { filter.dagID = try env.dag(dag, field: "dag_id").id }
            return try await list(request, filter)
        }
        routes.add(.get, "/api/v1/dags/{dag_id}/runs", role: .viewer, action: "reading runs") { request, context, _ in
            var filter = try filter(request)
            filter.dagID = try env.dag(try context.path("dag_id")).id
            return try await list(request, filter)
        }
        routes.add(.post, "/api/v1/dags/{dag_id}/runs", role: .user, action: "triggering a run") { request, context, caller in
            try await trigger(request, context, caller)
        }
        routes.add(.get, "/api/v1/runs/{run_id}", role: .viewer, action: "reading runs") { _, context, _ in
            let run = try await run(try context.path("run_id"))
            return env.json.response(RunResource.detail(run, dag: env.runtime.dagsByID[run.dagID]))
        }
        routes.add(.post, "/api/v1/runs/{run_id}/cancel", role: .user, action: "cancelling a run") { request, context, caller in
            let run = try await run(try context.path("run_id"))
            let members = try Members(try await env.json.object(request, context: context), allowed: ["reason"])
            let reason = try members.string("reason") ?? "cancelled by \(caller.username) through the API"
            guard !run.state.isTerminal else {
                throw Problem.conflict("run-finished", "run `\(run.id)` has already \(run.state.rawValue); there is nothing to cancel", field: "run_id")
            }
            try await env.runtime.createTopics()
            try await env.ops(caller).cancel(run.id, reason: reason)
            guard case .object(var body) = RunResource.summary(run) else { return env.json.response(.null) }
            body["cancel_requested"] = true
            return env.json.response(.object(body), status: .accepted)
        }
    }

    func run(_ id: String) async throws -> DagRun {
        guard let run = try await env.runtime.store.run(id) else {
            throw Problem.notFound("unknown-run", "no run `\(id)`; GET /api/v1/runs lists them", field: "run_id")
        }
        return run
    }

    private func filter(_ request: Request) throws -> RunFilter {
        var filter = RunFilter()
        for text in (request.query("state")?.split(separator: ",") ?? []) {
            guard let state = RunState(rawValue: String(text).trimmingCharacters(in: .whitespaces)) else {
                throw Problem.badRequest("invalid-parameter", "`state` must be some of queued, running, succeeded, failed, cancelled, not `\(text)`", field: "state")
            }
            filter.states.append(state)
        }
        let triggers = ["scheduled", "manual", "backfill", "replay", "upstream"]
        for text in (request.query("run_type")?.split(separator: ",") ?? []) {
            guard triggers.contains(String(text)) else {
                throw Problem.badRequest("invalid-parameter", "`run_type` must be some of \(triggers.joined(separator: ", ")), not `\(text)`", field: "run_type")
            }
            filter.triggers.append(String(text))
        }
        filter.logicalFrom = try request.queryDate("logical_date_gte")
        filter.logicalTo = try request.queryDate("logical_date_lte")
        return filter
    }

    private func list(_ request: Request, _ filter: RunFilter) async throws -> Response {
        let page = try Page(request)
        let (runs, next) = try await env.runs.runs(filter, before: page.position, limit: page.limit)
        return env.json.response([
            "dag_runs": .array(runs.map(RunResource.summary)), "next_cursor": next.map { .string(Page.cursor($0)) } ?? .null,
        ])
    }

    /// Through `OpsActions.trigger`, the CLI's path; the checks before it give each refusal its status
    /// and field (the same checks `RunAdmission` makes, which the ops path repeats).
    private func trigger(_ request: Request, _ context: APIRequestContext, _ caller: Caller) async throws -> Response {
        let dag = try env.dag(try context.path("dag_id"))
        let members = try Members(try await env.json.object(request, context: context), allowed: ["conf", "logical_date", "idempotency_key"])
        let conf = try members.object("conf") ?? .emptyObject
        let logicalDate = try members.date("logical_date")
        let key = try members.string("idempotency_key")
        if let key, key.isEmpty || key.count > 200 {
            throw Problem.badRequest("invalid-member", "`idempotency_key` must have 1 to 200 characters", field: "idempotency_key")
        }
        if try await env.pausedDags().contains(dag.id) {
            throw Problem.conflict("dag-paused", "DAG `\(dag.id)` is paused; unpause it with PATCH /api/v1/dags/\(dag.id) {\"is_paused\": false}", field: "dag_id")
        }
        if case .failure(let problems) = ParamValidation.resolve(conf, against: dag.params) {
            throw Problem.unprocessable("conf-invalid", "conf does not match the params of `\(dag.id)`: \(problems.joined(separator: "; "))", field: "conf")
        }
        // A client's own trace (W3C `traceparent`) is continued; a malformed one is ignored, as the spec says.
        let trace = TraceContext.parse(
            traceparent: request.headers[Self.traceparentHeader], tracestate: request.headers[Self.tracestateHeader])
        let request: RunRequest
        do {
            request = try await env.ops(caller).trigger(dag.id, conf: conf, idempotencyKey: key, logicalDate: logicalDate, trace: trace)
        } catch let refusal as RunAdmission.Refusal {
            throw Problem.unprocessable("run-refused", refusal.reason)
        }
        var headers = HTTPFields()
        headers[.location] = "/api/v1/runs/\(request.runID.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? request.runID)"
        if let existing = try await env.runtime.store.run(request.runID) {
            return env.json.response(RunResource.summary(existing), status: .created, headers: headers)
        }
        var o = JSONFields()
        o.set("dag_run_id", request.runID)
        o.set("dag_id", request.dagID)
        o.set("logical_date", request.logicalDate)
        o.set("queued_at", nil as Date?)
        o.set("start_date", nil as Date?)
        o.set("end_date", nil as Date?)
        o.set("duration", nil as Double?)
        // Published and admitted; the coordinator has not recorded it yet.
        o.set("state", "requested")
        o.set("status_text", "requested")
        o.set("run_type", request.trigger.label)
        o["conf"] = request.conf
        o.set("failure", nil as String?)
        o.set("warnings", [String]())
        o.set("trace_id", request.trace?.traceID)
        return env.json.response(o.json, status: .created, headers: headers)
    }

    static let traceparentHeader = HTTPField.Name("traceparent")!
    static let tracestateHeader = HTTPField.Name("tracestate")!
}
