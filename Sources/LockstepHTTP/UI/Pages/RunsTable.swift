import Foundation
import Hummingbird
import LockstepCore
import LockstepServices

/// A page of runs, newest first, filtered by state and run type, continued with the cursor: the DAG's
/// Runs tab and the Runs page (every DAG). One indexed query per page.
struct RunsTable: Sendable {
    let env: APIEnvironment
    static let pageSize = 50
    static let states: [RunState] = [.queued, .running, .succeeded, .failed, .cancelled]
    static let types = ["scheduled", "manual", "backfill", "replay", "upstream"]

    func render(_ ui: UIRequest, dagID: String?, basePath: String) async throws -> HTML {
        var filter = RunFilter(dagID: dagID)
        let state = ui.query("state").flatMap(RunState.init(rawValue:))
        if let state { filter.states = [state] }
        let type = ui.query("run_type").flatMap { Self.types.contains($0) ? $0 : nil }
        if let type { filter.triggers = [type] }
        let page = try Page(ui.request, defaultLimit: Self.pageSize)
        let (runs, next) = try await env.runs.runs(filter, before: page.position, limit: page.limit)
        let stateOptions = ([HTML("<option value=\"\">any state</option>")] + Self.states.map { s -> HTML in
            "<option value=\"\(s.rawValue)\"\(s == state ? " selected" as HTML : "")>\(s.rawValue)</option>"
        }).joined()
        let typeOptions = ([HTML("<option value=\"\">any type</option>")] + Self.types.map { t -> HTML in
            "<option value=\"\(t)\"\(t == type ? " selected" as HTML : "")>\(t)</option>"
        }).joined()
        let rows = runs.map { run -> HTML in
            let conf = run.conf == .emptyObject ? "" : run.conf.canonicalJSON()
            return """
                <tr><td><a href="\(UILinks.run(run.id))">\(run.id)</a></td>\(dagID == nil ? "<td><a href=\"\(UILinks.dag(run.dagID))\">\(run.dagID)</a></td>" as HTML : "")
                <td>\(StateStyle(run.state).badge)\(run.statusText != run.state.rawValue ? " <span class=\"muted\">with warnings</span>" as HTML : "")</td>
                <td>\(run.trigger.label)</td><td class="nowrap">\(Layout.time(run.logicalDate))</td><td class="nowrap">\(Layout.time(run.startedAt))</td>
                <td class="nowrap">\(Layout.time(run.finishedAt))</td>
                <td class="num">\(Layout.duration(run.startedAt.flatMap { s in run.finishedAt.map { $0.timeIntervalSince(s) } }))</td>
                <td><code>\(conf.count > 80 ? String(conf.prefix(80)) + "…" : conf)</code></td><td>\(run.failure)</td></tr>
                """
        }
        let query: [(String, String?)] = [("state", state?.rawValue), ("run_type", type)]
        var pager: [HTML] = []
        if page.position != nil { pager.append("<a href=\"\(UILinks.with(basePath, query))\">⇤ Newest</a>") }
        if let next { pager.append("<a rel=\"next\" href=\"\(UILinks.with(basePath, query + [("cursor", Page.cursor(next))]))\">Older →</a>") }
        return """
            <form class="toolbar" method="get" action="\(basePath)">
            <label>State<select name="state">\(stateOptions)</select></label><label>Run type<select name="run_type">\(typeOptions)</select></label>
            <button type="submit">Filter</button></form>
            <table class="list" id="runs-table"><thead><tr><th scope="col">Run</th>\(dagID == nil ? "<th scope=\"col\">DAG</th>" as HTML : "")<th scope="col">State</th><th scope="col">Type</th>
            <th scope="col">Logical date</th><th scope="col">Started</th><th scope="col">Ended</th><th scope="col" class="num">Duration</th><th scope="col">Conf</th><th scope="col">Failure</th></tr></thead>
            <tbody>\(rows.isEmpty ? ["<tr><td colspan=\"10\" class=\"muted\">No runs match.</td></tr>"] : rows)</tbody></table>
            <div class="pager">\(pager)</div>
            """
    }
}
