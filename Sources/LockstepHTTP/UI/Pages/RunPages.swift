import Foundation
import Hummingbird
import LockstepCore

/// A run: what it is (trigger, conf, cause, warnings), its tasks with every try (durations, the time
/// each waited for a slot or a worker, errors, outputs) and a Gantt chart; its event history; cancel.
/// And the Runs page across every DAG.
struct RunPages: Sendable {
    let env: APIEnvironment

    func list(_ ui: UIRequest) async throws -> Response {
        let body: HTML = """
            <h1>Runs</h1><p class="lede">Every DAG's runs, newest first.</p>
            \(try await RunsTable(env: env).render(ui, dagID: nil, basePath: UILinks.runs))
            """
        return UIResponse.html(Layout.page(ui, title: "Runs", section: .runs, body: body), scrub: env.json)
    }

    func load(_ id: String) async throws -> DagRun {
        guard let run = try await env.runtime.store.run(id) else {
            throw Problem.notFound("unknown-run", "no run `\(id)`; the Runs page lists them", field: "run_id")
        }
        return run
    }

    func run(_ ui: UIRequest) async throws -> Response {
        let run = try await load(try ui.path("run_id"))
        let dag = env.runtime.dagsByID[run.dagID]
        let detail = self.detail(run, dag: dag)
        if ui.isFragment { return UIResponse.html(detail, scrub: env.json) }
        let cancel: HTML = ui.may(.user) && !run.state.isTerminal ? """
            <form class="inline" method="post" action="\(UILinks.cancel(run.id))">\(ui.csrfField)<button type="submit" class="danger" id="cancel-run">⊘ Cancel run</button></form>
            """ : ""
        let body: HTML = """
            \(breadcrumb(run))
            <div class="toolbar"><h1>Run \(run.id)</h1>\(cancel)</div>
            \(Layout.notice(ui))
            \(tabs(run, current: UILinks.run(run.id)))
            <div id="run-detail" data-live="\(UILinks.run(run.id))">\(detail)</div>
            """
        return UIResponse.html(Layout.page(ui, title: "Run \(run.id)", section: .runs, stream: UILinks.API.stream(runID: run.id), body: body),
                               scrub: env.json)
    }

    func breadcrumb(_ run: DagRun) -> HTML {
        "<p class=\"muted\"><a href=\"\(UILinks.dags)\">DAGs</a> › <a href=\"\(UILinks.dag(run.dagID))\">\(run.dagID)</a> › run</p>"
    }

    func tabs(_ run: DagRun, current: String) -> HTML {
        Layout.tabs([(UILinks.run(run.id), "Details"), (UILinks.runEvents(run.id), "Event history"),
                     (UILinks.dagGraph(run.dagID, runID: run.id), "Graph")].map { (href: $0.0, label: $0.1) },
                    current: current, label: "Run views")
    }

    private func detail(_ run: DagRun, dag: DagSpec?) -> HTML {
        let trigger: HTML = switch run.trigger {
        case .replay(let of): "replay of <code>\(of)</code>"
        case .upstream(let upstreamDag, let upstreamRun): "after <a href=\"\(UILinks.run(upstreamRun))\">\(upstreamRun)</a> of \(upstreamDag)"
        default: HTML(text: run.trigger.label)
        }
        let duration = run.startedAt.map { s in (run.finishedAt ?? env.clock()).timeIntervalSince(s) }
        let warnings: HTML = run.warnings.isEmpty ? "" : """
            <div class="notice warn" role="status"><strong>Warnings</strong><ul>\(run.warnings.map { w -> HTML in "<li>\(w)</li>" })</ul></div>
            """
        let failure: HTML = run.failure.map { f -> HTML in "<div class=\"notice error\" role=\"status\" id=\"run-failure\"><strong>Cause:</strong> \(f)</div>" } ?? ""
        let order = dag?.tasks.map(\.id) ?? []
        let gantt = GanttChart(run, order: order, now: env.clock())
        return """
            <table class="kv"><tbody>
            <tr><th scope="row">State</th><td>\(StateStyle(run.state).badge) \(run.statusText != run.state.rawValue ? HTML(text: run.statusText) : "")</td></tr>
            <tr><th scope="row">DAG</th><td><a href="\(UILinks.dag(run.dagID))">\(run.dagID)</a></td></tr>
            <tr><th scope="row">Run type</th><td>\(trigger)</td></tr>
            <tr><th scope="row">Logical date</th><td>\(Layout.time(run.logicalDate))</td></tr>
            <tr><th scope="row">Queued · started · ended</th><td>\(Layout.time(run.requestedAt)) · \(Layout.time(run.startedAt)) · \(Layout.time(run.finishedAt))</td></tr>
            <tr><th scope="row">Duration</th><td>\(duration == nil ? "not started" as HTML : Layout.duration(duration))\(run.state.isTerminal || duration == nil ? "" : " so far" as HTML)</td></tr>
            <tr><th scope="row">Trace id</th><td>\(run.trace.map { t -> HTML in "<code id=\"run-trace-id\">\(t.traceID)</code>" } ?? "none (a run from before trace context)" as HTML)</td></tr>
            </tbody></table>
            \(failure)\(warnings)
            <h2>Conf</h2><div id="run-conf">\(Layout.json(run.conf))</div>
            <h2>Gantt</h2>\(gantt.rows.allSatisfy(\.bars.isEmpty) ? "<p class=\"muted\">No task has been dispatched yet.</p>" as HTML : gantt.svg())
            <p class="muted">Grey: waiting for a pool slot or a worker. Coloured: running, then its outcome (the glyph and number beside each bar say which try and how long).</p>
            <h2>Tasks</h2>\(tasks(run, dag: dag))
            """
    }

    private func tasks(_ run: DagRun, dag: DagSpec?) -> HTML {
        let order = dag?.tasks.map(\.id) ?? []
        let ids = order.filter { run.tasks[$0] != nil } + run.tasks.keys.filter { !order.contains($0) }.sorted()
        let bodies = ids.compactMap { run.tasks[$0] }.map { task -> HTML in
            let spec = dag?.task(task.taskID)
            let ran = task.attempts.compactMap(\.duration).reduce(Duration.zero, +)
            let waited = task.attempts.compactMap { a in a.startedAt.map { $0.timeIntervalSince(a.scheduledAt) } }.reduce(0, +)
            var status: [HTML] = []
            if let error = task.lastError { status.append("<div class=\"task-error\"><code>\(error.category)</code> \(error.message)</div>") }
            if let waiting = task.waitingFor { status.append("<div class=\"muted\">waiting for \(waiting)</div>") }
            if task.state == .queued, let pool = spec?.pool { status.append("<div class=\"muted\">waiting for a slot of pool <a href=\"\(UILinks.pools)\">\(pool)</a></div>") }
            if let retry = task.retryAt { status.append("<div class=\"muted\">next try at \(Layout.time(retry))</div>") }
            for w in task.warnings { status.append("<div class=\"warning\">⚠ \(w)</div>") }
            let tries = task.attempts.map { a -> HTML in
                """
                <tr><td>#\(a.tryNumber)</td><td>\(a.outcome.map { StateStyle($0 == .succeeded ? "succeeded" : $0 == .cancelled ? "cancelled" : "failed").badge } ?? (a.startedAt == nil ? StateStyle("scheduled").badge : StateStyle("running").badge))\(a.outcome == .timedOut ? " timed out" as HTML : "")</td>
                <td class="nowrap">\(Layout.time(a.scheduledAt))</td><td class="nowrap">\(Layout.time(a.startedAt))</td><td class="nowrap">\(Layout.time(a.finishedAt))</td>
                <td class="num">\(Layout.duration(a.startedAt.map { $0.timeIntervalSince(a.scheduledAt) }))</td><td class="num">\(Layout.duration(a.duration?.secondsValue))</td>
                <td>\(a.worker)</td><td><a href="\(UILinks.log(AttemptID(runID: run.id, taskID: task.taskID, tryNumber: a.tryNumber)))">log</a></td><td>\(a.error.map { e -> HTML in "<code>\(e.category)</code> \(e.message)\(e.retryable ? "" : " <span class=\"muted\">(not retryable)</span>" as HTML)" })</td></tr>
                """
            }
            let triesTable: HTML = tries.isEmpty ? "" : """
                <details class="tries" data-key="tries|\(task.taskID)"><summary>\(task.attempts.count) \(task.attempts.count == 1 ? "try" : "tries")</summary>
                <table class="list"><thead><tr><th scope="col">Try</th><th scope="col">Outcome</th><th scope="col">Scheduled</th><th scope="col">Started</th><th scope="col">Ended</th>
                <th scope="col" class="num">Waited</th><th scope="col" class="num">Ran</th><th scope="col">Worker</th><th scope="col">Log</th><th scope="col">Error</th></tr></thead><tbody>\(tries)</tbody></table></details>
                """
            let output: HTML = task.output.map { o -> HTML in o == .emptyObject ? "" : "<details class=\"output\" data-key=\"output|\(task.taskID)\"><summary>Output (XCom)</summary>\(Layout.json(o))</details>" } ?? ""
            return """
                <tr id="task-\(UILinks.anchor(task.taskID))" data-task="\(task.taskID)" data-state="\(task.state.rawValue)">
                <th scope="row">\(task.taskID)\(spec.map { s -> HTML in "<div class=\"muted\">\(s.operator)\(s.pool.map { " · pool \($0)" } ?? "")</div>" })</th>
                <td>\(StateStyle(task.state).badge)\(task.tryNumber > 0 ? "<div><a class=\"log-link\" href=\"\(UILinks.log(AttemptID(runID: run.id, taskID: task.taskID, tryNumber: task.tryNumber)))\">Log</a></div>" as HTML : "")</td><td class="num">\(task.tryNumber) / \(task.maxTries)</td>
                <td class="num">\(task.attempts.isEmpty ? Layout.duration(nil) : Layout.duration(ran.secondsValue))</td>
                <td class="num">\(task.attempts.isEmpty ? Layout.duration(nil) : Layout.duration(waited))</td>
                <td>\(status)\(triesTable)\(output)</td></tr>
                """
        }
        return """
            <table class="list tasks"><thead><tr><th scope="col">Task</th><th scope="col">State</th><th scope="col" class="num">Try</th>
            <th scope="col" class="num">Ran</th><th scope="col" class="num">Waited</th><th scope="col">Errors, warnings, tries, output</th></tr></thead>
            <tbody>\(bodies)</tbody></table>
            """
    }

    func events(_ ui: UIRequest) async throws -> Response {
        let run = try await load(try ui.path("run_id"))
        let entries = try await RunHistory(runtime: env.runtime).events(of: run)
        let history = EventHistoryView(entries: entries.map(EventHistory.Item.init))
        if ui.isFragment { return UIResponse.html(history.render(), scrub: env.json) }
        let body: HTML = """
            \(breadcrumb(run))
            <h1>Run \(run.id)</h1>
            \(tabs(run, current: UILinks.runEvents(run.id)))
            <p class="lede">Every event about this run, in order, read back from the topics. Each task try is one row (dispatched → started → succeeded); open it for the events themselves.</p>
            \(history.traceLine)
            <div id="history" data-live="\(UILinks.runEvents(run.id))">\(history.render())</div>
            """
        return UIResponse.html(
            Layout.page(ui, title: "Events of \(run.id)", section: .runs, stream: UILinks.API.stream(runID: run.id), body: body), scrub: env.json)
    }

    func cancel(_ ui: UIRequest) async throws -> Response {
        let run = try await load(try ui.path("run_id"))
        guard !run.state.isTerminal else {
            throw Problem.conflict("run-finished", "run `\(run.id)` has already \(run.state.rawValue); there is nothing to cancel", field: "run_id")
        }
        try await env.runtime.createTopics()
        try await env.ops(ui.caller).cancel(run.id, reason: "cancelled by \(ui.caller.username) in the web UI")
        return UIResponse.redirect(UILinks.with(UILinks.run(run.id), ["done": "cancel", "subject": run.id]))
    }
}
