import Foundation
import Hummingbird
import LockstepBus
import LockstepCore
import LockstepServices

/// Airflow's Admin menu and what it lacks: dead letters (reason, original record, redrive), pools
/// (slots used and queued), variables and connections (masked, with where each value comes from),
/// the audit trail from `lockstep.ops`, and health (bus, store, components' last events, consumer lag).
struct OperatePages: Sendable {
    let env: APIEnvironment
    /// The components' consumer groups and topics, for the lag table (the same list /metrics uses).
    let groups: [(group: String, topics: [String])]
    static let pageSize = 50

    private func page(_ ui: UIRequest, title: String, current: String, _ content: HTML) -> Response {
        let body: HTML = "<h1>Operate</h1>\(Layout.operateTabs(ui, current: current))\(Layout.notice(ui))<h2>\(title)</h2>\(content)"
        return UIResponse.html(Layout.page(ui, title: title, section: .operate, body: body), scrub: env.json)
    }

    // MARK: Dead letters

    func deadLetters(_ ui: UIRequest) async throws -> Response {
        let all = try await DeadLetters(runtime: env.runtime).list().reversed()
        let offset = max(0, Int(ui.query("offset") ?? "") ?? 0)
        let shown = Array(all.dropFirst(offset).prefix(Self.pageSize))
        let items = shown.map { entry -> HTML in
            let text = String(validating: entry.value, as: UTF8.self)
            let value: HTML = if let text, let json = try? JSONValue.parse(text) { Layout.json(json) } else if let text { "<pre>\(text)</pre>" } else {
                "<pre>base64: \(Data(entry.value).base64EncodedString())</pre>"
            }
            let headers = entry.headers.keys.sorted().map { k -> HTML in "<tr><th scope=\"row\"><code>\(k)</code></th><td><code>\(entry.headers[k]!)</code></td></tr>" }
            return """
                <article class="panel deadletter" data-key="\(entry.id)">
                <div class="toolbar"><strong class="mono">\(entry.id)</strong><span class="muted">\(Layout.time(entry.time)) · \(entry.component)</span>
                <form class="inline" method="post" action="\(UILinks.redrive)">\(ui.csrfField)<input type="hidden" name="deadletter_id" value="\(entry.id)">
                <button type="submit" class="redrive" aria-label="Redrive \(entry.id)">↻ Redrive</button></form></div>
                <p><strong>Reason:</strong> <span class="reason">\(entry.reason)</span></p>
                <table class="kv"><tbody><tr><th scope="row">Original</th><td><code>\(entry.originalTopic)\(entry.originalPosition ?? "")</code>\(entry.key.map { k -> HTML in " · key <code>\(k)</code>" })</td></tr></tbody></table>
                <details><summary>Original record: \(entry.value.count) bytes, \(entry.headers.count) headers</summary>
                <table class="kv"><tbody>\(headers)</tbody></table>\(value)</details>
                </article>
                """
        }
        var pager: [HTML] = []
        if offset > 0 { pager.append("<a href=\"\(UILinks.with(UILinks.deadLetters, ["offset": String(max(0, offset - Self.pageSize))]))\">← Newer</a>") }
        if offset + Self.pageSize < all.count { pager.append("<a href=\"\(UILinks.with(UILinks.deadLetters, ["offset": String(offset + Self.pageSize)]))\">Older →</a>") }
        let content: HTML = """
            <p class="lede">\(all.count) dead letter\(all.count == 1 ? "" : "s"), newest first. Redrive publishes the original record again to its topic, as it was (after you fixed the cause), and records who did it on <code>lockstep.ops</code>.</p>
            \(items.isEmpty ? ["<p class=\"muted\" id=\"no-deadletters\">No dead letters.</p>"] : items)
            <div class="pager">\(pager)</div>
            """
        return page(ui, title: "Dead letters", current: UILinks.deadLetters, content)
    }

    func redrive(_ ui: UIRequest) async throws -> Response {
        guard let id = ui.form["deadletter_id"], !id.isEmpty else {
            throw Problem.badRequest("missing-member", "`deadletter_id` is required", field: "deadletter_id")
        }
        do {
            _ = try await DeadLetters(runtime: env.runtime).redrive(id, ops: env.ops(ui.caller))
        } catch let error as OpsError {
            throw Problem.notFound("unknown-deadletter", "no dead letter `\(id)` (\(error))", field: "deadletter_id")
        }
        return UIResponse.redirect(UILinks.with(UILinks.deadLetters, ["done": "redriven", "subject": id]))
    }

    // MARK: Pools

    func pools(_ ui: UIRequest) async throws -> Response {
        let usage = try await env.poolUsage()
        let rows = env.runtime.config.pools.keys.sorted().map { name -> HTML in
            let spec = env.runtime.config.pools[name]!
            let (used, queued) = usage[name] ?? (0, 0)
            return """
                <tr data-key="\(name)"><th scope="row">\(name)<div class="muted">\(spec.description)</div></th><td class="num">\(spec.slots)</td>
                <td class="num">\(used)</td><td class="num">\(queued)</td><td class="num">\(max(0, spec.slots - used))</td>
                <td><meter min="0" max="\(max(1, spec.slots))" value="\(min(used, spec.slots))" aria-label="\(used) of \(spec.slots) slots used">\(used) of \(spec.slots)</meter> \(used) of \(spec.slots) used</td></tr>
                """
        }
        let content: HTML = """
            <p class="lede">Pools limit how many tasks run at once across every DAG; a task waits (queued) for a slot. Declared in <code>lockstep.yaml</code>.</p>
            <table class="list" id="pools"><thead><tr><th scope="col">Pool</th><th scope="col" class="num">Slots</th><th scope="col" class="num">Used</th>
            <th scope="col" class="num">Queued</th><th scope="col" class="num">Open</th><th scope="col">Usage</th></tr></thead>
            <tbody>\(rows.isEmpty ? ["<tr><td colspan=\"6\" class=\"muted\">No pools declared.</td></tr>"] : rows)</tbody></table>
            """
        return page(ui, title: "Pools", current: UILinks.pools, content)
    }

    // MARK: Variables and connections

    func variables(_ ui: UIRequest) async throws -> Response {
        let rows = env.runtime.config.variables.keys.sorted().map { name -> HTML in
            let value = env.runtime.config.variables[name]!
            let secret = ConfigRoutes.looksSecret(name)
            let shown = secret ? "***" : (value.contains("://") ? Redacted.uri(value) : value)
            let masked = secret || shown != value
            return """
                <tr><th scope="row"><code>\(name)</code></th><td><code>\(shown)</code>\(masked ? " <span class=\"muted\">(masked)</span>" as HTML : "")</td>
                <td>\(source(env: "LOCKSTEP_VAR_\(name)", inFile: env.fileConfig?.variables[name] != nil))</td></tr>
                """
        }
        let content: HTML = """
            <p class="lede">Read-only: variables come from <code>lockstep.yaml</code> and <code>LOCKSTEP_VAR_&lt;NAME&gt;</code>. Values whose names say they are secret, and passwords in URIs, are masked.</p>
            <table class="list" id="variables"><thead><tr><th scope="col">Key</th><th scope="col">Value</th><th scope="col">From</th></tr></thead><tbody>\(rows)</tbody></table>
            """
        return page(ui, title: "Variables", current: UILinks.variables, content)
    }

    func connections(_ ui: UIRequest) async throws -> Response {
        let rows = env.runtime.config.connections.keys.sorted().map { name -> HTML in
            let uri = env.runtime.config.connections[name]!
            let parts = URLComponents(string: uri)
            return """
                <tr><th scope="row"><code>\(name)</code></th><td>\(parts?.scheme)</td><td>\(parts?.host)\(parts?.port.map { ":\($0)" })</td><td>\(parts?.user)</td>
                <td><code>\(Redacted.uri(uri))</code></td><td>\(parts?.password != nil ? "yes, masked" : "no")</td>
                <td>\(source(env: "LOCKSTEP_CONN_\(name.uppercased())", inFile: env.fileConfig?.connections[name] != nil))</td></tr>
                """
        }
        let content: HTML = """
            <p class="lede">Read-only: connections are URIs in <code>lockstep.yaml</code> or <code>LOCKSTEP_CONN_&lt;NAME&gt;</code>. A password is never shown.</p>
            <table class="list" id="connections"><thead><tr><th scope="col">Connection</th><th scope="col">Type</th><th scope="col">Host</th><th scope="col">Login</th>
            <th scope="col">URI</th><th scope="col">Password</th><th scope="col">From</th></tr></thead><tbody>\(rows)</tbody></table>
            """
        return page(ui, title: "Connections", current: UILinks.connections, content)
    }

    private func source(env name: String, inFile: Bool) -> String {
        if env.environment[name] != nil { return "environment \(name)" }
        if inFile { return "config file" }
        return env.fileConfig == nil ? "config" : "operator pack default"
    }

    // MARK: Audit

    func audit(_ ui: UIRequest) async throws -> Response {
        let actor = ui.query("actor")
        let records = try await env.runtime.bus.read(topic: env.runtime.topics.ops, from: .beginning, to: .latest).readAll()
        let events = records.reversed().compactMap { record -> (BusRecord, CloudEvent)? in
            guard let event = try? CloudEvent(record) else { return nil }
            if let actor, event.data?["actor"]?.stringValue != actor { return nil }
            return (record, event)
        }
        let offset = max(0, Int(ui.query("offset") ?? "") ?? 0)
        let rows = events.dropFirst(offset).prefix(Self.pageSize).map { record, event -> HTML in
            let action = event.type.hasPrefix("lockstep.ops.") ? String(event.type.dropFirst("lockstep.ops.".count)) : event.type
            let who = event.data?["actor"]?.stringValue
            var details = event.data?.objectValue ?? [:]
            for key in ["actor", "at", "target"] { details[key] = nil }
            return """
                <tr><td class="nowrap">\(Layout.time(event.time ?? record.timestamp))</td>
                <td>\(who.map { w -> HTML in "<a href=\"\(UILinks.with(UILinks.audit, ["actor": w]))\">\(w)</a>" } ?? "<span class=\"muted\">unknown</span>")</td>
                <td><code>\(action)</code></td><td class="mono">\(event.data?["target"]?.stringValue ?? event.subject ?? record.key)</td>
                <td>\(details.isEmpty ? "" : Layout.json(.object(details)))</td></tr>
                """
        }
        var pager: [HTML] = []
        let query: [(String, String?)] = [("actor", actor)]
        if offset > 0 { pager.append("<a href=\"\(UILinks.with(UILinks.audit, query + [("offset", String(max(0, offset - Self.pageSize)))]))\">← Newer</a>") }
        if offset + Self.pageSize < events.count { pager.append("<a href=\"\(UILinks.with(UILinks.audit, query + [("offset", String(offset + Self.pageSize))]))\">Older →</a>") }
        let content: HTML = """
            <p class="lede">Who did what, newest first: every pause, cancel, replay, backfill, redrive and user change, from <code>lockstep.ops</code>.\(actor.map { a -> HTML in " Showing \(a)'s actions: <a href=\"\(UILinks.audit)\">show everyone's</a>." })</p>
            <table class="list" id="audit"><thead><tr><th scope="col">Time</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Details</th></tr></thead>
            <tbody>\(rows.isEmpty ? ["<tr><td colspan=\"5\" class=\"muted\">Nothing recorded.</td></tr>"] : Array(rows))</tbody></table>
            <div class="pager">\(pager)</div>
            """
        return page(ui, title: "Audit trail", current: UILinks.audit, content)
    }

    // MARK: Health

    func health(_ ui: UIRequest) async throws -> Response {
        var busStatus: HTML
        do {
            _ = try await env.runtime.bus.listTopics()
            busStatus = StateStyle("succeeded").badge + " reachable"
        } catch {
            busStatus = StateStyle("failed").badge + " unreachable: \(Redacted.uri("\(error)"))"
        }
        var storeStatus: HTML
        do {
            try await env.runs.ping()
            storeStatus = StateStyle("succeeded").badge + " reachable"
        } catch {
            storeStatus = StateStyle("failed").badge + " unreachable"
        }
        var components: [HTML] = []
        var lag: [HTML] = []
        var since: Date?
        if let observer = env.observer {
            let seen = await observer.lastSeen
            since = await observer.startedAt
            for source in seen.keys.sorted() {
                let parts = source.split(separator: "/", maxSplits: 2).map(String.init)
                let age = env.clock().timeIntervalSince(seen[source]!)
                components.append("""
                    <tr><th scope="row">\(parts.count > 1 ? parts[1] : source)</th><td class="mono">\(parts.count > 2 ? parts[2] : "")</td>
                    <td>\(Layout.time(seen[source]))</td><td class="num">\(Layout.durationText(max(0, age))) ago</td></tr>
                    """)
            }
            for (group, topic, records) in try await observer.lag(groups: groups) {
                lag.append("<tr><th scope=\"row\">\(group)</th><td class=\"mono\">\(topic)</td><td class=\"num\">\(records)</td></tr>")
            }
        }
        let content: HTML = """
            <table class="kv" id="health"><tbody>
            <tr><th scope="row">Bus</th><td>\(busStatus)</td></tr>
            <tr><th scope="row">State store</th><td>\(storeStatus) <span class="muted">\(env.runtime.store.location.description)</span></td></tr>
            </tbody></table>
            <h3>Components</h3>
            <p class="lede">The last event each component published, as this API process has seen since \(Layout.time(since)); the store keeps no heartbeats, so a quiet component shows its last event.</p>
            <table class="list" id="components"><thead><tr><th scope="col">Component</th><th scope="col">Instance</th><th scope="col">Last event</th><th scope="col" class="num">Age</th></tr></thead>
            <tbody>\(components.isEmpty ? ["<tr><td colspan=\"4\" class=\"muted\">No component has published since this process started.</td></tr>"] : components)</tbody></table>
            <h3>Consumer lag</h3>
            <table class="list" id="lag"><thead><tr><th scope="col">Group</th><th scope="col">Topic</th><th scope="col" class="num">Records behind</th></tr></thead>
            <tbody>\(lag.isEmpty ? ["<tr><td colspan=\"3\" class=\"muted\">Not known yet (no records seen since this process started).</td></tr>"] : lag)</tbody></table>
            """
        return page(ui, title: "Health", current: UILinks.health, content)
    }
}
