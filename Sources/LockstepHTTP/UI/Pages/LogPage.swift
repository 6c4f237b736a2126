import Foundation
import Hummingbird
import LockstepCore
import LockstepServices
import NIOCore

/// A task attempt's log, built for the logs Airflow's viewer chokes on: the tail first (a bounded
/// page, however long the log), older lines a page at a time with the cursor, search on the server,
/// download streamed page by page, and (with script) following the attempt live from the API's
/// follow stream without moving a reader who scrolled up.
struct TaskLogPage: Sendable {
    let env: APIEnvironment
    static let pageSize = 500

    struct Target {
        var run: DagRun
        var task: TaskInstance
        var attempt: AttemptID
    }

    func target(_ ui: UIRequest) async throws -> Target {
        let runID = try ui.path("run_id"), taskID = try ui.path("task_id"), text = try ui.path("try_number")
        guard let run = try await env.runtime.store.run(runID) else {
            throw Problem.notFound("unknown-run", "no run `\(runID)`; the Runs page lists them", field: "run_id")
        }
        guard let task = run.tasks[taskID] else {
            throw Problem.notFound("unknown-task", "run `\(runID)` has no task `\(taskID)`", field: "task_id")
        }
        guard let tryNumber = Int(text), tryNumber >= 1, tryNumber <= max(1, task.tryNumber) else {
            throw Problem.notFound("unknown-try", "task `\(taskID)` of run `\(runID)` has no try `\(text)`", field: "try_number")
        }
        return Target(run: run, task: task, attempt: AttemptID(runID: runID, taskID: taskID, tryNumber: tryNumber))
    }

    func render(_ ui: UIRequest) async throws -> Response {
        let t = try await target(ui)
        let store = env.runtime.store
        let grep = ui.query("grep")
        let base = UILinks.log(t.attempt)
        var lines: [StoredLogLine]
        var older: String?
        var newer: String?
        var more: String?
        let ended: Bool
        if let grep {
            // Search: every matching line, oldest first, a page at a time.
            let after = ui.query("after").flatMap(Int.init)
            let page = try await store.logLines(t.attempt, after: after, limit: Self.pageSize, grep: grep)
            lines = page.lines
            ended = page.attemptEnded
            if page.hasMore, let next = page.nextCursor { more = UILinks.with(base, ["grep": grep, "after": String(next)]) }
        } else if let before = ui.query("before").flatMap(Int.init) {
            // An older window: the seqs below `before`, read forward from below the window.
            let page = try await store.logLines(t.attempt, after: before - Self.pageSize - 1, limit: Self.pageSize)
            lines = page.lines.filter { $0.seq < before }
            ended = page.attemptEnded
            newer = base
            if let first = try await store.logLines(t.attempt, after: nil, limit: 1).lines.first, first.seq < before - Self.pageSize {
                older = UILinks.with(base, ["before": String(before - Self.pageSize)])
            }
        } else {
            let page = try await store.tail(t.attempt, limit: Self.pageSize)
            lines = page.lines
            ended = page.attemptEnded
            if let low = lines.first?.seq, let first = try await store.logLines(t.attempt, after: nil, limit: 1).lines.first, first.seq < low {
                older = UILinks.with(base, ["before": String(low)])
            }
        }
        let rows = lines.map(Self.row)
        let tries = (1...max(1, t.task.tryNumber)).map { n -> HTML in
            let href = UILinks.log(AttemptID(runID: t.run.id, taskID: t.task.taskID, tryNumber: n))
            return "<a href=\"\(href)\"\(n == t.attempt.tryNumber ? " aria-current=\"page\"" as HTML : "")>Try \(n)</a>"
        }
        let attempt = t.task.attempts.first { $0.tryNumber == t.attempt.tryNumber }
        let live = grep == nil && ui.query("before") == nil && !ended
        let follow = UILinks.API.logFollow(t.attempt, after: lines.last?.seq)
        let empty: HTML = grep == nil ? (ended ? "This try wrote no log lines." : "No lines yet: new lines appear here as the try writes them.")
            : "No line contains \u{201C}\(grep ?? "")\u{201D}."
        let body: HTML = """
            <p class="muted"><a href="\(UILinks.dags)">DAGs</a> › <a href="\(UILinks.dag(t.run.dagID))">\(t.run.dagID)</a> › <a href="\(UILinks.task(t.run.id, t.task.taskID))">\(t.run.id)</a> › log</p>
            <h1>Log of \(t.task.taskID), try \(t.attempt.tryNumber)</h1>
            <nav class="subnav" aria-label="Tries">\(tries)</nav>
            <p>\(StateStyle(t.attempt.tryNumber == t.task.tryNumber ? t.task.state.rawValue : attempt?.outcome?.rawValue ?? "none").badge)
            \(attempt.map { a -> HTML in " started \(Layout.time(a.startedAt)) · \(a.worker.map { "on \($0)" } ?? "")" })</p>
            <form class="toolbar" method="get" action="\(base)" role="search">
            <label>Search this log (on the server)<input type="search" id="log-grep" name="grep" value="\(grep ?? "")" placeholder="text to find"></label>
            <button type="submit">Search</button>\(grep == nil ? "" : "<a href=\"\(base)\">Show the tail</a>" as HTML)
            <a class="button" id="log-download" href="\(base)/download">Download</a>
            <span id="log-status" class="muted" role="status">\(live ? "following" : ended ? "the try has ended" : "")</span>
            </form>
            \(newer.map { n -> HTML in "<p><a href=\"\(n)\">⇥ Back to the newest lines</a></p>" })
            <div class="log-box" id="log-box" tabindex="0" aria-label="Log lines"\(grep == nil && newer == nil ? " data-at=\"end\"" as HTML : "")\(live ? " data-follow=\"\(follow)\"" as HTML : "")>
            \(older.map { o -> HTML in "<p class=\"log-older\"><a id=\"log-older\" href=\"\(o)\">↑ Older lines</a></p>" })
            <ol class="log" id="log-lines">\(rows)</ol>
            \(rows.isEmpty ? "<p class=\"muted\" id=\"log-empty\">\(empty)</p>" as HTML : "")
            </div>
            <button type="button" id="log-new" class="log-new" hidden>New lines below ↓</button>
            \(more.map { m -> HTML in "<p><a id=\"log-more\" href=\"\(m)\">More matches →</a></p>" })
            """
        return UIResponse.html(Layout.page(ui, title: "Log of \(t.task.taskID) #\(t.attempt.tryNumber)", section: .runs, body: body), scrub: env.json)
    }

    static func row(_ line: StoredLogLine) -> HTML {
        "<li id=\"L\(line.seq)\" data-seq=\"\(line.seq)\" class=\"\(line.stream == "stderr" ? "stderr" : "")\"><span class=\"t\">\(Layout.shortDate(line.time).suffix(8))</span><span class=\"s\">\(line.stream)</span><span class=\"x\">\(line.text)</span></li>"
    }

    /// The whole log as text, read and sent a page at a time: a log of any length costs one page
    /// of memory.
    func download(_ ui: UIRequest) async throws -> Response {
        let t = try await target(ui)
        let store = env.runtime.store
        let json = env.json
        var headers = UIResponse.headers(contentType: "text/plain; charset=utf-8")
        let name = "\(t.run.id)_\(t.task.taskID)_\(t.attempt.tryNumber).log"
        headers[.contentDisposition] = "attachment; filename=\"\(UIResponse.safeFilename(name))\""
        let attempt = t.attempt
        let body = ResponseBody { writer in
            var cursor: Int?
            while true {
                let page = try await store.logLines(attempt, after: cursor, limit: 1000)
                let text = page.lines.map { "\(ISO8601.format($0.time)) \($0.stream) \($0.text)\n" }.joined()
                if !text.isEmpty { try await writer.write(ByteBuffer(string: json.scrub(text))) }
                cursor = page.nextCursor ?? cursor
                if !page.hasMore { break }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}
