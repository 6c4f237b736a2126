import Foundation
import Hummingbird
import LockstepBus
import LockstepCore
import LockstepServices
import NIOCore

/// Unauthenticated: health (bus and store reachable, components last seen), version, metrics. And
/// the live event stream for browsers (authenticated).
struct SystemRoutes {
    let env: APIEnvironment
    let metrics: APIMetrics
    static let version = "0.11.0"

    /// The consumer groups the components use and what they read, for the lag gauges.
    var groups: [(group: String, topics: [String])] {
        let t = env.runtime.topics
        return [
            (Coordinator.group, t.coordinatorInputs), ("lockstep-workers", [t.taskCommands]), ("lockstep-notifier", [t.notifications]),
            ("lockstep-alerter", [t.runEvents]),
        ]
    }

    func register(_ routes: RouteTable) {
        routes.addPublic(.get, "/api/v1/health") { _, _ in try await health() }
        routes.addPublic(.get, "/api/v1/version") { _, _ in
            env.json.response(["version": .string(Self.version), "api_version": "v1"])
        }
        routes.addPublic(.get, "/metrics") { _, _ in
            try await refreshGauges()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: env.json.scrub(metrics.render()))))
        }
        routes.add(.get, "/api/v1/events/stream", role: .viewer, action: "following run events") { request, _, _ in
            try await stream(request)
        }
    }

    private func health() async throws -> Response {
        var ok = true
        var bus = JSONFields()
        do {
            _ = try await env.runtime.bus.listTopics()
            bus.set("status", "ok")
            bus.set("detail", nil as String?)
        } catch {
            ok = false
            bus.set("status", "unreachable")
            bus.set("detail", Redacted.uri("\(error)") == "<redacted>" ? "\(type(of: error))" : Redacted.uri("\(error)"))
        }
        var store = JSONFields()
        store.set("location", env.runtime.store.location.description)
        do {
            try await env.runs.ping()
            _ = try await env.runtime.store.pausedDags()
            store.set("status", "ok")
        } catch {
            ok = false
            store.set("status", "unreachable")
        }
        var components: [JSONValue] = []
        var observing = JSONFields()
        if let observer = env.observer {
            let seen = await observer.lastSeen
            for source in seen.keys.sorted() {
                // `lockstep/<component>/<instance>`; `ops` is the CLI or an API process acting for a user.
                let parts = source.split(separator: "/", maxSplits: 2).map(String.init)
                if parts.count > 1 && parts[1] == "ops" { continue }
                var c = JSONFields()
                c.set("component", parts.count > 1 ? parts[1] : source)
                c.set("instance", parts.count > 2 ? parts[2] : nil)
                c.set("last_seen", seen[source])
                components.append(c.json)
            }
            observing.set("since", await observer.startedAt)
        }
        observing.set("method", "the last event each component published on the bus since this API process started; the store keeps no heartbeats")
        return env.json.response([
            "status": .string(ok ? "ok" : "degraded"), "bus": bus.json, "store": store.json,
            "components": .array(components), "liveness": observing.json,
        ], status: ok ? .ok : .serviceUnavailable)
    }

    /// Pools and consumer lag are states, not events: computed at scrape time.
    private func refreshGauges() async throws {
        let usage = try await env.poolUsage()
        for (name, spec) in env.runtime.config.pools {
            let (used, queued) = usage[name] ?? (0, 0)
            metrics.pool(name, open: max(0, spec.slots - used), used: used, queued: queued)
        }
        if let observer = env.observer {
            for (group, topic, records) in try await observer.lag(groups: groups) {
                metrics.consumerLag(group: group, topic: topic, records: records)
            }
        }
    }

    /// Server-sent events: each run or task lifecycle event as it arrives (`event:` its type, `id:`
    /// its event id, `data:` the event data), optionally for one DAG or run; a comment every 15 s keeps
    /// proxies from closing an idle stream.
    private func stream(_ request: Request) async throws -> Response {
        guard let observer = env.observer else {
            throw Problem(.serviceUnavailable, "stream-unavailable", title: "Stream unavailable", detail: "this API process does not observe the bus")
        }
        let dag = request.query("dag_id")
        let run = request.query("run_id")
        let events = await observer.subscribe()
        let json = env.json
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: ": lockstep run events\n\n"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                let (ticks, tick) = AsyncStream<Void>.makeStream()
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: .seconds(15))
                        tick.yield()
                    }
                }
                var merged = ServerSentEvents(events: events, ticks: ticks).makeAsyncIterator()
                while let item = await merged.next() {
                    switch item {
                    case .tick: try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    case .event(let event):
                        if let dag, event.data?["dag_id"]?.stringValue != dag { continue }
                        if let run, event.subject != run, event.data?["run_id"]?.stringValue != run { continue }
                        let data = json.scrub(event.data?.canonicalJSON() ?? "null")
                        try await writer.write(ByteBuffer(string: "id: \(event.id)\nevent: \(event.type)\ndata: \(data)\n\n"))
                    }
                }
                group.cancelAll()
                try await writer.finish(nil)
            }
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}

/// Events and keep-alive ticks as one sequence, for the SSE writer's single loop.
struct ServerSentEvents: AsyncSequence, Sendable {
    enum Item: Sendable { case event(CloudEvent), tick }
    let events: AsyncStream<CloudEvent>
    let ticks: AsyncStream<Void>

    func makeAsyncIterator() -> AsyncStream<Item>.Iterator {
        let (merged, continuation) = AsyncStream<Item>.makeStream()
        let events = self.events, ticks = self.ticks
        let pump = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { for await event in events { continuation.yield(.event(event)) }; continuation.finish() }
                group.addTask { for await _ in ticks { continuation.yield(.tick) } }
                await group.next()
                group.cancelAll()
            }
        }
        continuation.onTermination = { _ in pump.cancel() }
        return merged.makeAsyncIterator()
    }
}
