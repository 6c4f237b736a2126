import Foundation
import Hummingbird
import LockstepCore

/// One DAG: the grid (runs across, tasks down, paged), the runs table, the task graph of a chosen
/// run, task durations over recent runs, and the DAG file as declared. Every view reads one page of
/// runs through the `(dag_id, sequence)` index, never the DAG's whole history.
struct DagPages: Sendable {
    let env: APIEnvironment
    static let gridRuns = 25
    static let runsPage = 50
    static let durationRuns = 50

    // MARK: Grid

    func grid(_ ui: UIRequest) async throws -> Response {
        let dag = try env.dag(try ui.path("dag_id"))
        let page = try Page(ui.request, defaultLimit: Self.gridRuns)
        let (runs, next) = try await env.runs.runs(.init(dagID: dag.id), before: page.position, limit: page.limit)
        let grid = Self.gridTable(dag, runs: runs.reversed(), next: next, first: page.position == nil)
        if ui.isFragment { return UIResponse.html(grid, scrub: env.json) }
        let live = UILinks.with(UILinks.dag(dag.id), [("cursor", ui.query("cursor")), ("limit", ui.query("limit"))])
        let body: HTML = """
            \(try await header(ui, dag, current: UILinks.dag(dag.id)))
            <section aria-labelledby="grid-title"><h2 id="grid-title">Grid</h2>
            <p class="lede">Runs across (oldest left), tasks down. Arrow keys move between cells; Enter opens one.</p>
            <div id="grid" data-live="\(live)">\(grid)</div>
            \(DagsPage.legend)</section>
            """
        return UIResponse.html(
            Layout.page(ui, title: dag.id, section: .dags, stream: UILinks.API.stream(dagID: dag.id), body: body), scrub: env.json)
    }

    static func gridTable(_ dag: DagSpec, runs: [DagRun], next: Int64?, first: Bool) -> HTML {
        let declared = dag.tasks.map(\.id)
        let extra = Set(runs.flatMap(\.tasks.keys)).subtracting(declared).sorted()
        let taskIDs = declared + extra
        let heads = runs.map { run -> HTML in
            let style = StateStyle(run.state)
            return """
                <th scope="col" class="run"><a class="cell \(style.cssClass)" href="\(UILinks.run(run.id))" data-key="run|\(run.id)" title="\(run.id): \(run.statusText)" aria-label="run \(run.id): \(run.statusText)">\(style.glyph)</a><br><span class="when">\(Layout.shortDate(run.logicalDate).dropFirst(5).prefix(11))</span></th>
                """
        }
        let rows = taskIDs.map { taskID -> HTML in
            let cells = runs.map { run -> HTML in
                guard let task = run.tasks[taskID] else {
                    return "<td><span class=\"cell st-none\" title=\"\(taskID) is not in run \(run.id)\" aria-hidden=\"true\">·</span></td>"
                }
                let style = StateStyle(task.state)
                let tries = task.tryNumber > 1 ? ", try \(task.tryNumber) of \(task.maxTries)" : ""
                return """
                    <td><a class="cell \(style.cssClass)" href="\(UILinks.task(run.id, taskID))" data-key="\(run.id)|\(taskID)" data-state="\(task.state.rawValue)" title="\(taskID) · \(run.id): \(style.label)\(tries)" aria-label="\(taskID) in run \(run.id): \(style.label)\(tries)">\(style.glyph)</a></td>
                    """
            }
            return "<tr data-task=\"\(taskID)\"><th scope=\"row\" class=\"task\">\(taskID)\(extra.contains(taskID) ? " <span class=\"muted\">(no longer declared)</span>" as HTML : "")</th>\(cells)</tr>"
        }
        var pager: [HTML] = []
        if !first { pager.append("<a href=\"\(UILinks.dag(dag.id))\">⇤ Newest runs</a>") }
        if let next { pager.append("<a href=\"\(UILinks.dagGrid(dag.id, cursor: Page.cursor(next)))\" rel=\"next\">Older runs →</a>") }
        if runs.isEmpty {
            return "<p class=\"muted\">No runs yet.</p>"
        }
        return """
            <div class="grid-wrap"><table class="grid" aria-label="Grid of \(dag.id): runs by tasks">
            <thead><tr><th scope="col" class="task"><span class="muted">task \\ run</span></th>\(heads)</tr></thead>
            <tbody>\(rows)</tbody></table></div>
            <div class="pager">\(pager)</div>
            """
    }

    // MARK: Runs table

    func runs(_ ui: UIRequest) async throws -> Response {
        let dag = try env.dag(try ui.path("dag_id"))
        let body: HTML = """
            \(try await header(ui, dag, current: UILinks.dagRuns(dag.id)))
            \(try await RunsTable(env: env).render(ui, dagID: dag.id, basePath: UILinks.dagRuns(dag.id)))
            """
        return UIResponse.html(Layout.page(ui, title: "Runs of \(dag.id)", section: .dags, body: body), scrub: env.json)
    }

    // MARK: Graph

    func graph(_ ui: UIRequest) async throws -> Response {
        let dag = try env.dag(try ui.path("dag_id"))
        let recent = try await env.runs.runs(.init(dagID: dag.id), before: nil, limit: 25).runs
        var chosen: DagRun?
        if let id = ui.query("run_id") {
            guard let run = try await env.runtime.store.run(id), run.dagID == dag.id else {
                throw Problem.notFound("unknown-run", "DAG `\(dag.id)` has no run `\(id)`", field: "run_id")
            }
            chosen = run
        } else {
            chosen = recent.first
        }
        var states: [String: (state: String, detail: String)] = [:]
        if let chosen {
            for (id, task) in chosen.tasks {
                states[id] = (task.state.rawValue, task.tryNumber > 1 ? "try \(task.tryNumber)" : "")
            }
        }
        let svg = TaskGraph(dag).svg(states: states) { task in chosen.map { UILinks.task($0.id, task) } }
        let live = UILinks.dagGraph(dag.id, runID: chosen?.id)
        if ui.isFragment { return UIResponse.html(svg, scrub: env.json) }
        let options = recent.map { run -> HTML in
            "<option value=\"\(run.id)\"\(run.id == chosen?.id ? " selected" as HTML : "")>\(run.id) (\(run.state.rawValue))</option>"
        }
        let picker: HTML = recent.isEmpty ? "<p class=\"muted\">No runs yet: the graph shows the DAG as declared.</p>" : """
            <form class="toolbar" method="get" action="\(UILinks.dagGraph(dag.id))"><label>Run<select name="run_id">\(options)</select></label>
            <button type="submit">Show</button>\(chosen.map { r -> HTML in "<a href=\"\(UILinks.run(r.id))\">Open run \(r.id)</a>" })</form>
            """
        let body: HTML = """
            \(try await header(ui, dag, current: UILinks.dagGraph(dag.id)))
            <h2>Task graph</h2>\(picker)
            <div id="graph" data-live="\(live)">\(svg)</div>
            """
        return UIResponse.html(
            Layout.page(ui, title: "Graph of \(dag.id)", section: .dags, stream: chosen.map { UILinks.API.stream(runID: $0.id) }, body: body),
            scrub: env.json)
    }

    // MARK: Durations

    func durations(_ ui: UIRequest) async throws -> Response {
        let dag = try env.dag(try ui.path("dag_id"))
        let runs = Array(try await env.runs.runs(.init(dagID: dag.id), before: nil, limit: Self.durationRuns).runs.reversed())
        let taskIDs = dag.tasks.map(\.id)
        let series = taskIDs.map { id in
            DurationChart.Series(name: id, values: runs.map { run in run.tasks[id]?.attempts.last?.duration?.secondsValue })
        }
        let labels = runs.map { String(Layout.shortDate($0.logicalDate).dropFirst(5).prefix(11)) }
        let chart: HTML = runs.isEmpty ? "<p class=\"muted\">No runs yet.</p>" : DurationChart(runLabels: labels, series: series).svg()
        let columns = taskIDs.map { id -> HTML in "<th scope=\"col\" class=\"num\">\(id)</th>" }
        let rows = runs.reversed().map { run -> HTML in
            let cells = taskIDs.map { id -> HTML in
                "<td class=\"num\">\(Layout.duration(run.tasks[id]?.attempts.last?.duration?.secondsValue))</td>"
            }
            return "<tr><th scope=\"row\"><a href=\"\(UILinks.run(run.id))\">\(run.id)</a></th>\(cells)</tr>"
        }
        let body: HTML = """
            \(try await header(ui, dag, current: UILinks.dagDurations(dag.id)))
            <h2>Task duration</h2>
            <p class="lede">The last try of each task over the newest \(runs.count) runs, oldest on the left.</p>
            \(chart)
            <details><summary>The numbers</summary>
            <table class="list"><thead><tr><th scope="col">run</th>\(columns)</tr></thead><tbody>\(rows)</tbody></table></details>
            """
        return UIResponse.html(Layout.page(ui, title: "Durations of \(dag.id)", section: .dags, body: body), scrub: env.json)
    }

    // MARK: Code

    func code(_ ui: UIRequest) async throws -> Response {
        let dag = try env.dag(try ui.path("dag_id"))
        let file = DagFiles(directory: env.configuration.dagsDirectory).source(of: dag.id)
        let source: HTML
        if let file {
            let lines = file.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { i, line -> HTML in
                "<tr><td class=\"num muted\">\(i + 1)</td><td><code>\(line)</code></td></tr>"
            }
            source = """
                <p class="lede">\(file.path)</p>
                <div class="panel mono"><table class="code" aria-label="\(file.path)"><tbody>\(lines)</tbody></table></div>
                """
        } else {
            source = "<div class=\"notice warn\">The DAG file is not readable from this server process (started without its DAG directory); below is the DAG as the server parsed it.</div>"
        }
        let parsed = DagResource.detail(dag, paused: false, latestRuns: [], now: env.clock())
        let body: HTML = """
            \(try await header(ui, dag, current: UILinks.dagCode(dag.id)))
            <h2>DAG file</h2>\(source)
            <details\(file == nil ? " open" as HTML : "")><summary>As parsed (defaults applied)</summary>\(Layout.json(parsed))</details>
            """
        return UIResponse.html(Layout.page(ui, title: "Code of \(dag.id)", section: .dags, body: body), scrub: env.json)
    }

    // MARK: Shared header

    private func header(_ ui: UIRequest, _ dag: DagSpec, current: String) async throws -> HTML {
        let paused = try await env.pausedDags().contains(dag.id)
        let next = paused ? nil : DagResource.nextFire(dag, after: env.clock())
        let tabs = Layout.tabs([
            (UILinks.dag(dag.id), "Grid"), (UILinks.dagRuns(dag.id), "Runs"), (UILinks.dagGraph(dag.id), "Graph"),
            (UILinks.dagDurations(dag.id), "Task duration"), (UILinks.dagCode(dag.id), "Code"),
        ].map { (href: $0.0, label: $0.1) }, current: current, label: "DAG views")
        let trigger: HTML = ui.may(.user) && !paused ? "<a class=\"button primary\" id=\"trigger-button\" href=\"\(UILinks.trigger(dag.id))\">▶ Trigger</a>" : ""
        let pauseForm = DagsPage.pauseControl(ui, dag: dag.id, paused: paused, back: current)
        return """
            <p class="muted"><a href="\(UILinks.dags)">DAGs</a> › \(dag.id)</p>
            <div class="toolbar"><h1>\(dag.id)</h1>\(pauseForm)\(trigger)</div>
            <p class="lede">\(dag.description)</p>
            <p class="facts"><span><span class="muted">Schedule</span> <code>\(dag.schedule ?? "None")</code> (\(dag.timezone))\(dag.triggerOn.isEmpty ? "" : " · after \(dag.triggerOn.joined(separator: ", ")) succeeds" as HTML)</span>
            <span><span class="muted">Next run</span> \(paused ? "<span class=\"muted\">paused</span>" as HTML : Layout.time(next))</span>
            <span><span class="muted">Owner</span> \(dag.owner)</span>
            <span><span class="muted">Max active runs</span> \(dag.maxActiveRuns)\(dag.catchup ? " · catchup" : "")</span>
            <span>\(dag.tags.map { t -> HTML in "<a class=\"tag\" href=\"\(UILinks.with(UILinks.dags, ["tags": t]))\">\(t)</a>" })</span></p>
            \(Layout.notice(ui))
            \(tabs)
            """
    }
}
