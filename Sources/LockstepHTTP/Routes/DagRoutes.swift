import Foundation
import Hummingbird
import LockstepCore

/// `/dags`: list, one DAG with its tasks and edges, pause and unpause.
struct DagRoutes {
    let env: APIEnvironment

    func register(_ routes: RouteTable) {
        routes.add(.get, "/api/v1/dags", role: .viewer, action: "reading DAGs") { request, _, _ in
            let page = try Page(request)
            let tags = request.query("tags")?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
            let pattern = request.query("dag_id_pattern")?.lowercased()
            let pausedFilter = try request.queryBool("paused")
            let paused = try await env.pausedDags()
            let now = env.clock()
            let selected = env.runtime.dags.sorted { $0.id < $1.id }.filter { dag in
                (tags.isEmpty || !Set(tags).isDisjoint(with: dag.tags))
                    && (pattern.map { dag.id.lowercased().contains($0) } ?? true)
                    && (pausedFilter.map { $0 == paused.contains(dag.id) } ?? true)
            }
            let (items, next) = page.slice(selected)
            var dags: [JSONValue] = []
            for dag in items {
                dags.append(DagResource.summary(dag, paused: paused.contains(dag.id), latestRuns: try await env.runs.latest(dagID: dag.id, limit: 5), now: now))
            }
            return env.json.response([
                "dags": .array(dags), "total_entries": .int(Int64(selected.count)), "next_cursor": next.map(JSONValue.string) ?? .null,
            ])
        }
        routes.add(.get, "/api/v1/dags/{dag_id}", role: .viewer, action: "reading DAGs") { _, context, _ in
            let dag = try env.dag(try context.path("dag_id"))
            let paused = try await env.pausedDags().contains(dag.id)
            return env.json.response(DagResource.detail(dag, paused: paused, latestRuns: try await env.runs.latest(dagID: dag.id, limit: 5), now: env.clock()))
        }
        routes.add(.patch, "/api/v1/dags/{dag_id}", role: .user, action: "pausing or unpausing a DAG") { request, context, caller in
            let dag = try env.dag(try context.path("dag_id"))
            let members = try Members(try await env.json.object(request, context: context), allowed: ["is_paused"])
            let pause = try members.bool("is_paused", required: true)!
            let ops = env.ops(caller)
            try await env.runtime.createTopics()
            if pause { try await ops.pause(dag.id) } else { try await ops.unpause(dag.id) }
            // The coordinator applies it from the ops topic; the answer shows what was asked for.
            return env.json.response(DagResource.summary(dag, paused: pause, latestRuns: try await env.runs.latest(dagID: dag.id, limit: 5), now: env.clock()))
        }
    }
}
