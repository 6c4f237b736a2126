import Foundation
import Hummingbird
import LockstepBus
import LockstepCore

/// The `lockstep.ops` trail: who paused, cancelled, triggered through ops, replayed, backfilled,
/// redrove or added a user, and when. Newest first.
struct AuditRoutes {
    let env: APIEnvironment

    func register(_ routes: RouteTable) {
        routes.add(.get, "/api/v1/audit", role: .op, action: "reading the audit trail") { request, _, _ in
            let page = try Page(request)
            let actor = request.query("actor")
            let records = try await env.runtime.bus.read(topic: env.runtime.topics.ops, from: .beginning, to: .latest).readAll()
            let entries = records.reversed().compactMap { record -> JSONValue? in
                guard let event = try? CloudEvent(record) else { return nil }
                let who = event.data?["actor"]?.stringValue
                if let actor, who != actor { return nil }
                var o = JSONFields()
                o.set("id", event.id)
                o.set("time", event.time ?? record.timestamp)
                o.set("type", event.type)
                o.set("action", event.type.hasPrefix("lockstep.ops.") ? String(event.type.dropFirst("lockstep.ops.".count)) : event.type)
                o.set("actor", who)
                o.set("target", event.data?["target"]?.stringValue ?? event.subject ?? record.key)
                o["details"] = event.data
                return o.json
            }
            let (items, next) = page.slice(entries)
            return env.json.response(["entries": .array(Array(items)), "next_cursor": next.map(JSONValue.string) ?? .null])
        }
    }
}
