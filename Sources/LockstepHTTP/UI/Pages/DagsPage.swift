import Foundation
import Hummingbird
import LockstepCore

/// The DAGs view: each DAG with its schedule, next run, its newest runs as squares, the paused
/// toggle and a trigger button; filtered by search words, tag and paused state on the server (the
/// script also filters as you type). Costs one indexed query per DAG shown (its newest runs' ids and
/// states), however many runs the store holds.
struct DagsPage: Sendable {
    let env: APIEnvironment
    static let squares = 10
    static let pageSize = 100

    struct Filter {
        var words: [String]
        var tags: [String]
        var paused: Bool?

        init(_ ui: UIRequest) {
            words = (ui.query("q") ?? "").lowercased().split(separator: " ").map(String.init)
            tags = (ui.query("tags") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            paused = ui.query("paused").flatMap { ["true": true, "false": false][$0] }
        }

        func matches(_ dag: DagSpec, paused isPaused: Bool) -> Bool {
            let hay = DagsPage.searchText(dag)
            return words.allSatisfy(hay.contains) && (tags.isEmpty || !Set(tags).isDisjoint(with: dag.tags))
                && (paused.map { $0 == isPaused } ?? true)
        }

        var query: [(String, String?)] {
            [("q", words.isEmpty ? nil : words.joined(separator: " ")), ("tags", tags.isEmpty ? nil : tags.joined(separator: ",")),
             ("paused", paused.map { $0 ? "true" : "false" })]
        }
    }

    static func searchText(_ dag: DagSpec) -> String {
        ([dag.id, dag.description, dag.owner] + dag.tags).joined(separator: " ").lowercased()
    }

    func render(_ ui: UIRequest) async throws -> Response {
        let filter = Filter(ui)
        let paused = try await env.pausedDags()
        let all = env.runtime.dags.sorted { $0.id < $1.id }
        let selected = all.filter { filter.matches($0, paused: paused.contains($0.id)) }
        let offset = max(0, Int(ui.query("offset") ?? "") ?? 0)
        let shown = Array(selected.dropFirst(offset).prefix(Self.pageSize))
        let table = try await self.table(ui, shown, paused: paused)
        if ui.isFragment { return UIResponse.html(table, scrub: env.json) }

        let tags = Set(all.flatMap(\.tags)).sorted()
        let tagOptions = ([HTML("<option value=\"\">any tag</option>")] + tags.map { tag -> HTML in
            "<option value=\"\(tag)\"\(filter.tags == [tag] ? " selected" as HTML : "")>\(tag)</option>"
        }).joined()
        func pausedOption(_ value: String, _ label: String) -> HTML {
            let current = filter.paused.map { $0 ? "true" : "false" } ?? ""
            return "<option value=\"\(value)\"\(current == value ? " selected" as HTML : "")>\(label)</option>"
        }
        var pager: HTML = ""
        if offset > 0 || offset + Self.pageSize < selected.count {
            let prev: HTML = offset > 0 ? "<a href=\"\(UILinks.with(UILinks.dags, filter.query + [("offset", String(max(0, offset - Self.pageSize)))]))\">← Previous</a>" : ""
            let next: HTML = offset + Self.pageSize < selected.count ? "<a href=\"\(UILinks.with(UILinks.dags, filter.query + [("offset", String(offset + Self.pageSize))]))\">Next →</a>" : ""
            pager = "<div class=\"pager\">\(prev)<span class=\"muted\">\(offset + 1)–\(offset + shown.count) of \(selected.count)</span>\(next)</div>"
        }
        let live = UILinks.with(UILinks.dags, filter.query + [("offset", offset > 0 ? String(offset) : nil)])
        let body: HTML = """
            <h1>DAGs</h1>
            <p class="lede">\(selected.count) of \(all.count) DAGs · the newest \(Self.squares) runs of each, oldest on the left · press <span class="kbd">/</span> to search</p>
            \(Layout.notice(ui))
            <form class="toolbar" method="get" action="\(UILinks.dags)" role="search">
            <label>Search<input type="search" id="dag-search" name="q" value="\(filter.words.joined(separator: " "))" placeholder="id, description, owner, tag"></label>
            <label>Tag<select name="tags">\(tagOptions)</select></label>
            <label>State<select name="paused">\(pausedOption("", "all"))\(pausedOption("false", "active"))\(pausedOption("true", "paused"))</select></label>
            <button type="submit">Filter</button>\(filter.words.isEmpty && filter.tags.isEmpty && filter.paused == nil ? "" : "<a href=\"\(UILinks.dags)\">Clear</a>" as HTML)
            </form>
            <div id="dag-table" data-live="\(live)">\(table)</div>
            \(pager)
            \(Self.legend)
            """
        return UIResponse.html(Layout.page(ui, title: "DAGs", section: .dags, stream: UILinks.API.stream(), body: body), scrub: env.json)
    }

    private func table(_ ui: UIRequest, _ dags: [DagSpec], paused: Set<String>) async throws -> HTML {
        let now = env.clock()
        var rows: [HTML] = []
        for dag in dags {
            let isPaused = paused.contains(dag.id)
            let latest = try await env.runs.latest(dagID: dag.id, limit: Self.squares)
            let squares = latest.reversed().map { run -> HTML in
                let style = StateStyle(run.state)
                return "<a class=\"sq \(style.cssClass)\" href=\"\(UILinks.run(run.id))\" title=\"\(run.id): \(style.label)\" aria-label=\"run \(run.id): \(style.label)\">\(style.glyph)</a>"
            }
            let next = isPaused ? nil : DagResource.nextFire(dag, after: now)
            let tags = dag.tags.map { tag -> HTML in "<a class=\"tag\" href=\"\(UILinks.with(UILinks.dags, ["tags": tag]))\">\(tag)</a>" }
            let actions: HTML = ui.may(.user) && !isPaused
                ? "<a class=\"button\" href=\"\(UILinks.trigger(dag.id))\" aria-label=\"Trigger \(dag.id)\">▶ Trigger</a>" : ""
            rows.append("""
                <tr data-search="\(Self.searchText(dag))" data-paused="\(isPaused ? "true" : "false")" id="dag-\(UILinks.anchor(dag.id))">
                <td>\(Self.pauseControl(ui, dag: dag.id, paused: isPaused))</td>
                <td><a class="dag-id" href="\(UILinks.dag(dag.id))">\(dag.id)</a><div class="muted">\(dag.description)</div></td>
                <td>\(tags)</td>
                <td class="nowrap">\(dag.owner)</td>
                <td class="nowrap"><code>\(dag.schedule ?? "None")</code>\(dag.triggerOn.isEmpty ? "" : "<div class=\"muted\">after \(dag.triggerOn.joined(separator: ", "))</div>" as HTML)</td>
                <td class="nowrap">\(isPaused ? "<span class=\"muted\">paused</span>" as HTML : Layout.time(next))</td>
                <td class="nowrap">\(squares.isEmpty ? "<span class=\"muted\">no runs yet</span>" as HTML : squares.joined())</td>
                <td class="nowrap">\(actions)</td>
                </tr>
                """)
        }
        if rows.isEmpty { rows = ["<tr><td colspan=\"8\" class=\"muted\">No DAG matches.</td></tr>"] }
        return """
            <table class="list"><thead><tr><th scope="col">Paused</th><th scope="col">DAG</th><th scope="col">Tags</th><th scope="col">Owner</th>
            <th scope="col">Schedule</th><th scope="col">Next run</th><th scope="col">Last runs</th><th scope="col"><span class="muted">Actions</span></th></tr></thead>
            <tbody>\(rows)</tbody></table>
            """
    }

    /// A button for those who may pause (a form that posts without script; the script sends PATCH to
    /// the API instead); for a viewer, the state as text.
    static func pauseControl(_ ui: UIRequest, dag: String, paused: Bool, back: String? = nil) -> HTML {
        let label = paused ? "Paused" : "Active"
        let glyph = paused ? "⏸" : "▶"
        guard ui.may(.user) else {
            return "<span class=\"nowrap\" title=\"\(label)\"><span aria-hidden=\"true\">\(glyph)</span> \(label)</span>"
        }
        return """
            <form class="inline pause-toggle" method="post" action="\(UILinks.pause(dag))" data-api="\(UILinks.API.dag(dag))">\(ui.csrfField)
            \(back.map { b -> HTML in "<input type=\"hidden\" name=\"back\" value=\"\(b)\">" })<input type="hidden" name="is_paused" value="\(paused ? "false" : "true")">
            <button type="submit" class="toggle" aria-pressed="\(paused ? "true" : "false")" title="\(paused ? "Paused: click to unpause" : "Active: click to pause")"
             aria-label="\(dag) paused"><span class="glyph" aria-hidden="true">\(glyph)</span> <span class="label">\(label)</span></button>
            <span class="toggle-error error" role="alert" hidden></span></form>
            """
    }

    /// Without script: the form posts here, the ops path records who paused, and the page reloads.
    func setPaused(_ ui: UIRequest) async throws -> Response {
        let dag = try env.dag(try ui.path("dag_id"))
        guard let value = ui.form["is_paused"], let pause = ["true": true, "false": false][value] else {
            throw Problem.badRequest("invalid-member", "`is_paused` must be true or false", field: "is_paused")
        }
        let ops = env.ops(ui.caller)
        try await env.runtime.createTopics()
        if pause { try await ops.pause(dag.id) } else { try await ops.unpause(dag.id) }
        // The coordinator applies it from the ops topic; wait (briefly) until the store shows it, so
        // the page the browser is sent to shows the DAG as the user left it.
        let deadline = ContinuousClock.now + .seconds(5)
        while try await env.pausedDags().contains(dag.id) != pause, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let back = ui.form["back"].map { UILinks.safeNext($0) } ?? UILinks.dags
        return UIResponse.redirect(UILinks.with(back, ["done": pause ? "paused" : "unpaused", "subject": dag.id]))
    }

    static var legend: HTML {
        let states = ["succeeded", "failed", "running", "queued", "scheduled", "up_for_retry", "upstream_failed", "skipped", "cancelled", "pending"]
        let items = states.map { state -> HTML in
            let s = StateStyle(state)
            return "<span><span class=\"sq \(s.cssClass)\" aria-hidden=\"true\">\(s.glyph)</span>\(s.label)</span>"
        }
        return "<div class=\"legend\" aria-label=\"Legend\">\(items)</div>"
    }
}
