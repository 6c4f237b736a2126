import Foundation
import Hummingbird
import LockstepCore
import LockstepServices

/// What ops do: replay a range of a request topic, backfill a DAG, inspect and redrive dead letters.
/// Each goes through the same functions as the CLI (`Replay`, `Backfill`, `DeadLetters`, `OpsActions`)
/// and is recorded on `lockstep.ops` with the caller's name.
struct OpsRoutes {
    let env: APIEnvironment

    func register(_ routes: RouteTable) {
        routes.add(.post, "/api/v1/replay", role: .op, action: "replaying") { request, context, caller in
            try await replay(request, context, caller)
        }
        routes.add(.post, "/api/v1/backfills", role: .op, action: "backfilling") { request, context, caller in
            try await backfill(request, context, caller)
        }
        routes.add(.get, "/api/v1/deadletters", role: .op, action: "reading dead letters") { request, _, _ in
            let page = try Page(request)
            let (items, next) = page.slice(try await DeadLetters(runtime: env.runtime).list())
            return env.json.response(["deadletters": .array(items.map(deadLetterJSON)), "next_cursor": next.map(JSONValue.string) ?? .null])
        }
        routes.add(.post, "/api/v1/deadletters/{deadletter_id}/redrive", role: .op, action: "redriving a dead letter") { _, context, caller in
            let id = try context.path("deadletter_id")
            do {
                let entry = try await DeadLetters(runtime: env.runtime).redrive(id, ops: env.ops(caller))
                return env.json.response(["redriven": deadLetterJSON(entry)], status: .accepted)
            } catch let error as OpsError {
                throw Problem.notFound("unknown-deadletter", "no dead letter `\(id)`; GET /api/v1/deadletters lists them (\(error))", field: "deadletter_id")
            }
        }
    }

    private func deadLetterJSON(_ e: DeadLetters.Entry) -> JSONValue {
        var original = JSONFields()
        original.set("topic", e.originalTopic)
        original.set("position", e.originalPosition)
        original.set("key", e.key)
        original["headers"] = .object(e.headers.mapValues(JSONValue.string))
        original.set("value", String(validating: e.value, as: UTF8.self) ?? Data(e.value).base64EncodedString())
        var o = JSONFields()
        o.set("deadletter_id", e.id)
        o.set("time", e.time)
        o.set("component", e.component)
        o.set("reason", e.reason)
        o["original"] = original.json
        return o.json
    }

    private func replay(_ request: Request, _ context: APIRequestContext, _ caller: Caller) async throws -> Response {
        let m = try Members(try await env.json.object(request, context: context),
                            allowed: ["topic", "from", "from_offset", "to", "to_offset", "dag_id", "dry_run"])
        let topic = try m.string("topic", required: true)!
        let dryRun = try m.bool("dry_run") ?? false
        let replay = Replay(runtime: env.runtime)
        do { try replay.checkReplayable(topic) } catch let error as OpsError {
            throw Problem.unprocessable("topic-not-replayable", error.description, field: "topic")
        }
        let start: Replay.Start
        switch (try m.date("from"), try m.string("from_offset")) {
        case (let time?, nil): start = .time(time)
        case (nil, let offset?): let (p, o) = try Self.offset(offset, field: "from_offset"); start = .offset(partition: p, offset: o)
        default: throw Problem.badRequest("missing-member", "give exactly one of `from` (a time) or `from_offset` (\"PARTITION:OFFSET\")", field: "from")
        }
        var end = Replay.End.latest
        if let time = try m.date("to") { end = .time(time) }
        if let offset = try m.string("to_offset") { let (p, o) = try Self.offset(offset, field: "to_offset"); end = .offset(partition: p, offset: o) }
        let dagID = try m.string("dag_id")
        if let dagID { _ = try env.dag(dagID) }
        let batch = String(UUID().uuidString.prefix(8)).lowercased()
        let items = try await replay.plan(topic: topic, from: start, to: end, dagID: dagID, batch: batch)
        if !dryRun { try await replay.execute(items, topic: topic, ops: env.ops(caller)) }
        return env.json.response([
            "dry_run": .bool(dryRun), "count": .int(Int64(items.count)),
            "runs": .array(items.map { item in
                [
                    "replay_of": .string(item.original.id), "position": .string(item.position.description),
                    "time": .string(ISO8601.format(item.timestamp)), "dag_id": .string(item.request.dagID),
                    "dag_run_id": .string(item.request.runID), "logical_date": .string(ISO8601.format(item.request.logicalDate)),
                ]
            }),
        ], status: dryRun ? .ok : .accepted)
    }

    private func backfill(_ request: Request, _ context: APIRequestContext, _ caller: Caller) async throws -> Response {
        let m = try Members(try await env.json.object(request, context: context), allowed: ["dag_id", "from", "to", "dry_run"])
        let dag = try env.dag(try m.string("dag_id", required: true)!)
        let from = try m.date("from", required: true)!
        let to = try m.date("to", required: true)!
        guard from <= to else { throw Problem.badRequest("invalid-member", "`to` must not be before `from`", field: "to") }
        let dryRun = try m.bool("dry_run") ?? false
        let requests: [RunRequest]
        do { requests = try Backfill.requests(dag, from: from, to: to) } catch let error as OpsError {
            throw Problem.unprocessable("not-backfillable", error.description, field: "dag_id")
        }
        if !dryRun {
            let ops = env.ops(caller)
            try await env.runtime.createTopics()
            for request in requests { try await ops.requestRun(request) }
            try await ops.audit("backfill", target: dag.id, details: [
                "from": .string(ISO8601.format(from)), "to": .string(ISO8601.format(to)), "runs": .int(Int64(requests.count)),
            ])
        }
        return env.json.response([
            "dry_run": .bool(dryRun), "dag_id": .string(dag.id), "count": .int(Int64(requests.count)),
            "runs": .array(requests.map { ["dag_run_id": .string($0.runID), "logical_date": .string(ISO8601.format($0.logicalDate))] }),
        ], status: dryRun ? .ok : .accepted)
    }

    static func offset(_ text: String, field: String) throws -> (Int32, Int64) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let p = Int32(parts[0]), let o = Int64(parts[1]), p >= 0, o >= 0 else {
            throw Problem.badRequest("invalid-member", "`\(field)` must be \"PARTITION:OFFSET\", e.g. \"0:120\"", field: field)
        }
        return (p, o)
    }
}
