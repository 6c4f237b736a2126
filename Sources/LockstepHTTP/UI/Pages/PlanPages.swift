import Foundation
import Hummingbird
import LockstepCore
import LockstepServices

/// Replay and backfill as two steps: the form asks for the range, the server answers with the dry-run
/// plan (every run it would request), and only the plan's own Publish button publishes. Publishing
/// plans again and refuses if the plan changed in between (more records arrived, a DAG changed), so
/// what is published is what was shown; replay keeps the plan's batch id, so a double submit names
/// the same runs and starts each once.
struct PlanPages: Sendable {
    let env: APIEnvironment

    // MARK: Replay

    func replay(_ ui: UIRequest) async throws -> Response {
        let f = ui.request.method == .post ? ui.form : ui.queryForm
        let topics = [env.runtime.topics.runRequests, env.runtime.topics.scheduleTicks]
        let topic = f.text("topic") ?? topics[0]
        var errors: [String] = []
        var plan: HTML = ""
        if ui.request.method == .post {
            do {
                switch try await replayPlan(ui, f, topic: topic) {
                case .shown(let html): plan = html
                case .published(let location): return UIResponse.redirect(location)
                }
            } catch let problem as Problem {
                errors.append(problem.detail)
            }
        }
        let topicOptions = topics.map { t -> HTML in "<option value=\"\(t)\"\(t == topic ? " selected" as HTML : "")>\(t)</option>" }
        let form: HTML = """
            <form method="post" action="\(UILinks.replay)" class="panel" id="replay-form">\(ui.csrfField)<input type="hidden" name="step" value="plan">
            <div class="field"><label for="topic">Topic</label><select id="topic" name="topic">\(topicOptions)</select>
            <div class="hint">Run requests and schedule ticks can be replayed; each becomes a new run that names what it replays.</div></div>
            <div class="field"><label for="from">From (time)</label><input type="text" id="from" name="from" value="\(f["from"] ?? "")" placeholder="2025-09-17T00:00:00Z">
            <div class="hint">Or from an offset: <input type="text" name="from_offset" value="\(f["from_offset"] ?? "")" placeholder="0:120" aria-label="From offset (PARTITION:OFFSET)"></div></div>
            <div class="field"><label for="to">To (time)</label><input type="text" id="to" name="to" value="\(f["to"] ?? "")" placeholder="now">
            <div class="hint">Or to an offset: <input type="text" name="to_offset" value="\(f["to_offset"] ?? "")" placeholder="0:200" aria-label="To offset (PARTITION:OFFSET)"></div></div>
            <div class="field"><label for="dag_id">Only DAG</label>\(dagSelect(f["dag_id"], scheduledOnly: false, allowAny: true))</div>
            <div class="actions"><button type="submit" class="primary" id="replay-plan">Show the plan (dry run)</button></div>
            </form>
            """
        return page(ui, title: "Replay", current: UILinks.replay, errors: errors, content: form + plan)
    }

    /// What a plan step ends in: the plan shown (again), or published and where its effect shows.
    private enum Outcome {
        case shown(HTML)
        case published(String)
    }

    private func replayPlan(_ ui: UIRequest, _ f: UIForm, topic: String) async throws -> Outcome {
        let replay = Replay(runtime: env.runtime)
        do { try replay.checkReplayable(topic) } catch let error as OpsError {
            throw Problem.unprocessable("topic-not-replayable", error.description, field: "topic")
        }
        let start: Replay.Start
        switch (try date(f, "from"), f.text("from_offset")) {
        case (let time?, nil): start = .time(time)
        case (nil, let offset?): let (p, o) = try OpsRoutes.offset(offset, field: "from_offset"); start = .offset(partition: p, offset: o)
        default: throw Problem.badRequest("missing-member", "give a From time or a From offset (one of them)", field: "from")
        }
        var end = Replay.End.latest
        var pinnedTo = f.text("to")
        if let time = try date(f, "to") { end = .time(time) }
        if let offset = f.text("to_offset") { let (p, o) = try OpsRoutes.offset(offset, field: "to_offset"); end = .offset(partition: p, offset: o) }
        if end == .latest {
            // Pin the open end to now, so the Publish step reads the same range the plan showed.
            let now = env.clock()
            end = .time(now)
            pinnedTo = ISO8601.format(now)
        }
        let dagID = f.text("dag_id")
        if let dagID { _ = try env.dag(dagID) }
        let givenBatch = f.text("batch").flatMap { $0.count == 8 && $0.allSatisfy(\.isHexDigit) ? $0 : nil }
        let batch = givenBatch ?? String(UUID().uuidString.prefix(8)).lowercased()
        let items = try await replay.plan(topic: topic, from: start, to: end, dagID: dagID, batch: batch)
        if f["step"] == "publish" {
            let expected = Int(f["expected"] ?? "")
            if expected == items.count {
                try await env.runtime.createTopics()
                try await replay.execute(items, topic: topic, ops: env.ops(ui.caller))
                return .published(UILinks.with(UILinks.audit, ["done": "replayed", "subject": String(items.count)]))
            }
        }
        let changed: HTML = f["step"] == "publish" ? "<div class=\"notice warn\" role=\"alert\">The range changed since the plan was shown (it had \(f["expected"] ?? "?") requests, now \(items.count)). Nothing was published; check the new plan.</div>" : ""
        let rows = items.map { item -> HTML in
            """
            <tr><td class="mono">\(item.position.description)</td><td class="nowrap">\(Layout.time(item.timestamp))</td><td>\(item.request.dagID)</td>
            <td class="mono">\(item.request.runID)</td><td class="nowrap">\(Layout.time(item.request.logicalDate))</td></tr>
            """
        }
        let hidden = [("topic", topic), ("from", f["from"]), ("from_offset", f["from_offset"]), ("to", pinnedTo), ("to_offset", f["to_offset"]),
                      ("dag_id", dagID), ("batch", batch), ("expected", String(items.count)), ("step", "publish")]
            .compactMap { name, value -> HTML? in value.map { "<input type=\"hidden\" name=\"\(name)\" value=\"\($0)\">" } }
        return .shown("""
            <section class="plan" id="plan" aria-labelledby="plan-title" role="region">
            <h2 id="plan-title">Dry run: \(items.count) run request\(items.count == 1 ? "" : "s") would be published</h2>
            \(changed)
            <p>Nothing has been published yet. Replaying <code>\(topic)</code>\(pinnedTo.map { " up to \($0)" } ?? ""), batch <code>\(batch)</code>.</p>
            <table class="list"><thead><tr><th scope="col">Original position</th><th scope="col">Time</th><th scope="col">DAG</th><th scope="col">New run</th><th scope="col">Logical date</th></tr></thead>
            <tbody>\(rows.isEmpty ? ["<tr><td colspan=\"5\" class=\"muted\">Nothing in this range to replay.</td></tr>"] : rows)</tbody></table>
            \(items.isEmpty ? "" : "<form method=\"post\" action=\"\(UILinks.replay)\" class=\"actions\">\(ui.csrfField)\(hidden)<button type=\"submit\" class=\"primary\" id=\"plan-publish\">Publish \(items.count) run request\(items.count == 1 ? "" : "s")</button><a class=\"button\" href=\"\(UILinks.replay)\">Cancel</a></form>" as HTML)
            </section>
            """)
    }

    // MARK: Backfill

    func backfill(_ ui: UIRequest) async throws -> Response {
        let f = ui.request.method == .post ? ui.form : ui.queryForm
        var errors: [String] = []
        var plan: HTML = ""
        if ui.request.method == .post {
            do {
                switch try await backfillPlan(ui, f) {
                case .shown(let html): plan = html
                case .published(let location): return UIResponse.redirect(location)
                }
            } catch let problem as Problem {
                errors.append(problem.detail)
            }
        }
        let form: HTML = """
            <form method="post" action="\(UILinks.backfill)" class="panel" id="backfill-form">\(ui.csrfField)<input type="hidden" name="step" value="plan">
            <div class="field"><label for="dag_id">DAG</label>\(dagSelect(f["dag_id"], scheduledOnly: true, allowAny: false))
            <div class="hint">One run per schedule interval, with the ids the scheduler uses: an interval that already ran is not run twice.</div></div>
            <div class="field"><label for="from">From</label><input type="text" id="from" name="from" value="\(f["from"] ?? "")" placeholder="2025-09-17T00:00:00Z" required></div>
            <div class="field"><label for="to">To</label><input type="text" id="to" name="to" value="\(f["to"] ?? "")" placeholder="2025-09-18T00:00:00Z" required></div>
            <div class="actions"><button type="submit" class="primary" id="backfill-plan">Show the plan (dry run)</button></div>
            </form>
            """
        return page(ui, title: "Backfill", current: UILinks.backfill, errors: errors, content: form + plan)
    }

    private func backfillPlan(_ ui: UIRequest, _ f: UIForm) async throws -> Outcome {
        guard let dagID = f.text("dag_id") else { throw Problem.badRequest("missing-member", "choose a DAG", field: "dag_id") }
        let dag = try env.dag(dagID)
        guard let from = try date(f, "from") else { throw Problem.badRequest("missing-member", "give From", field: "from") }
        guard let to = try date(f, "to") else { throw Problem.badRequest("missing-member", "give To", field: "to") }
        guard from <= to else { throw Problem.badRequest("invalid-member", "To must not be before From", field: "to") }
        let requests: [RunRequest]
        do { requests = try Backfill.requests(dag, from: from, to: to) } catch let error as OpsError {
            throw Problem.unprocessable("not-backfillable", error.description, field: "dag_id")
        }
        if f["step"] == "publish", Int(f["expected"] ?? "") == requests.count {
            // As POST /api/v1/backfills does: each request through the ops path, then one audit record.
            let ops = env.ops(ui.caller)
            try await env.runtime.createTopics()
            for request in requests { try await ops.requestRun(request) }
            try await ops.audit("backfill", target: dag.id, details: [
                "from": .string(ISO8601.format(from)), "to": .string(ISO8601.format(to)), "runs": .int(Int64(requests.count)),
            ])
            return .published(UILinks.with(UILinks.dagRuns(dag.id), ["done": "backfilled", "subject": String(requests.count)]))
        }
        let changed: HTML = f["step"] == "publish" ? "<div class=\"notice warn\" role=\"alert\">The plan changed since it was shown; nothing was published. Check the new plan.</div>" : ""
        let existing = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
            for request in requests.prefix(200) { group.addTask { (request.runID, try await env.runtime.store.run(request.runID) != nil) } }
            var found: Set<String> = []
            for try await (id, exists) in group where exists { found.insert(id) }
            return found
        }
        let rows = requests.map { request -> HTML in
            "<tr><td class=\"mono\">\(request.runID)</td><td class=\"nowrap\">\(Layout.time(request.logicalDate))</td><td>\(existing.contains(request.runID) ? "ran already: will not run again" : "new")</td></tr>"
        }
        let hidden = [("dag_id", dag.id), ("from", f["from"]), ("to", f["to"]), ("expected", String(requests.count)), ("step", "publish")]
            .compactMap { name, value -> HTML? in value.map { "<input type=\"hidden\" name=\"\(name)\" value=\"\($0)\">" } }
        return .shown("""
            <section class="plan" id="plan" aria-labelledby="plan-title" role="region">
            <h2 id="plan-title">Dry run: \(requests.count) run\(requests.count == 1 ? "" : "s") of \(dag.id) would be requested</h2>
            \(changed)<p>Nothing has been published yet. Max active runs (\(dag.maxActiveRuns)) still holds: extra runs wait their turn.</p>
            <table class="list"><thead><tr><th scope="col">Run</th><th scope="col">Logical date</th><th scope="col">Status</th></tr></thead>
            <tbody>\(rows.isEmpty ? ["<tr><td colspan=\"3\" class=\"muted\">No schedule interval in this range.</td></tr>"] : rows)</tbody></table>
            \(requests.isEmpty ? "" : "<form method=\"post\" action=\"\(UILinks.backfill)\" class=\"actions\">\(ui.csrfField)\(hidden)<button type=\"submit\" class=\"primary\" id=\"plan-publish\">Request \(requests.count) run\(requests.count == 1 ? "" : "s")</button><a class=\"button\" href=\"\(UILinks.backfill)\">Cancel</a></form>" as HTML)
            </section>
            """)
    }

    // MARK: Shared

    private func dagSelect(_ selected: String?, scheduledOnly: Bool, allowAny: Bool) -> HTML {
        let dags = env.runtime.dags.filter { !scheduledOnly || $0.schedule != nil }.sorted { $0.id < $1.id }
        let options = dags.map { d -> HTML in "<option value=\"\(d.id)\"\(d.id == selected ? " selected" as HTML : "")>\(d.id)</option>" }
        return "<select id=\"dag_id\" name=\"dag_id\">\(allowAny ? "<option value=\"\">every DAG</option>" as HTML : "")\(options)</select>"
    }

    private func date(_ f: UIForm, _ name: String) throws -> Date? {
        guard let text = f.text(name) else { return nil }
        guard let date = ISO8601.parse(text) else {
            throw Problem.badRequest("invalid-member", "\(name.capitalized) must be an RFC 3339 time such as 2025-09-18T02:00:00Z, not `\(text)`", field: name)
        }
        return date
    }

    private func page(_ ui: UIRequest, title: String, current: String, errors: [String], content: HTML) -> Response {
        let problems: HTML = errors.isEmpty ? "" : "<div class=\"notice error\" role=\"alert\">\(errors.map { e -> HTML in "<p>\(e)</p>" })</div>"
        let body: HTML = "<h1>Operate</h1>\(Layout.operateTabs(ui, current: current))<h2>\(title)</h2>\(problems)\(content)"
        return UIResponse.html(Layout.page(ui, title: title, section: .operate, body: body), scrub: env.json)
    }
}
