import Foundation
import Hummingbird
import LockstepCore

/// `GET /runs/{run_id}/events`: the run's whole event history from the topics, oldest first, paged.
struct EventRoutes {
    let env: APIEnvironment

    func register(_ routes: RouteTable) {
        routes.add(.get, "/api/v1/runs/{run_id}/events", role: .viewer, action: "reading run events") { request, context, _ in
            let page = try Page(request, defaultLimit: 500)
            let id = try context.path("run_id")
            guard let run = try await env.runtime.store.run(id) else {
                throw Problem.notFound("unknown-run", "no run `\(id)`; GET /api/v1/runs lists them", field: "run_id")
            }
            let (items, next) = page.slice(try await RunHistory(runtime: env.runtime).events(of: run))
            return env.json.response([
                "dag_run_id": .string(run.id), "events": .array(items.map(RunHistory.json)), "next_cursor": next.map(JSONValue.string) ?? .null,
            ])
        }
    }
}
