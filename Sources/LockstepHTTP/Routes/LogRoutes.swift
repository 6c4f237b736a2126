import Foundation
import HTTPTypes
import Hummingbird
import LockstepCore
import LockstepServices
import NIOCore

/// A task attempt's log: a page after a cursor (or the newest lines with `tail`), searched on the
/// server with `grep`; with `follow=true`, server-sent events while the attempt runs, each line's
/// `id:` its seq so a reconnecting client's `Last-Event-ID` resumes after the last line it had.
struct LogRoutes {
    let env: APIEnvironment
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
    /// How often a follower looks for new lines while the attempt runs.
    static let followInterval: Duration = .milliseconds(250)

    func register(_ routes: RouteTable) {
        routes.add(.get, "/api/v1/runs/{run_id}/tasks/{task_id}/tries/{try_number}/logs", role: .viewer, action: "reading task logs") { request, context, _ in
            let attempt = try await attempt(context)
            let grep = request.query("grep")
            if try request.queryBool("follow") == true { return try await follow(request, attempt, grep: grep) }
            let page = try Page(request, defaultLimit: 1000)
            let logs: LogPage
            if let text = request.query("tail") {
                guard let n = Int(text), (1...Page.maxLimit).contains(n) else {
                    throw Problem.badRequest("invalid-parameter", "`tail` must be a whole number from 1 to \(Page.maxLimit), not `\(text)`", field: "tail")
                }
                logs = try await env.runtime.store.tail(attempt, limit: n, grep: grep)
            } else {
                logs = try await env.runtime.store.logLines(attempt, after: page.position.map(Int.init), limit: page.limit, grep: grep)
            }
            var o = JSONFields()
            o.set("dag_run_id", attempt.runID)
            o.set("task_id", attempt.taskID)
            o.set("try_number", attempt.tryNumber)
            o["lines"] = .array(logs.lines.map(Self.json))
            o.set("next_cursor", logs.nextCursor.map { Page.cursor(Int64($0)) })
            o.set("has_more", logs.hasMore)
            o.set("attempt_ended", logs.attemptEnded)
            return env.json.response(o.json)
        }
    }

    /// The attempt the path names; 404 for an unknown run, task or try.
    private func attempt(_ context: APIRequestContext) async throws -> AttemptID {
        let runID = try context.path("run_id")
        let taskID = try context.path("task_id")
        let text = try context.path("try_number")
        guard let tryNumber = Int(text), tryNumber >= 1 else {
            throw Problem.badRequest("invalid-parameter", "`try_number` must be a whole number from 1, not `\(text)`", field: "try_number")
        }
        guard let run = try await env.runtime.store.run(runID) else {
            throw Problem.notFound("unknown-run", "no run `\(runID)`; GET /api/v1/runs lists them", field: "run_id")
        }
        guard let task = run.tasks[taskID] else {
            throw Problem.notFound("unknown-task", "run `\(runID)` has no task `\(taskID)` (has: \(run.tasks.keys.sorted().joined(separator: ", ")))", field: "task_id")
        }
        guard tryNumber <= max(task.tryNumber, 1) else {
            throw Problem.notFound("unknown-try", "task `\(taskID)` of run `\(runID)` has \(task.tryNumber) tr\(task.tryNumber == 1 ? "y" : "ies"), not \(tryNumber)", field: "try_number")
        }
        return AttemptID(runID: runID, taskID: taskID, tryNumber: tryNumber)
    }

    static func json(_ line: StoredLogLine) -> JSONValue {
        ["seq": .int(Int64(line.seq)), "time": .string(ISO8601.format(line.time)), "stream": .string(line.stream), "text": .string(line.text)]
    }

    private func follow(_ request: Request, _ attempt: AttemptID, grep: String?) async throws -> Response {
        var after: Int?
        if let text = request.headers[Self.lastEventID] ?? request.query("after") {
            guard let seq = Int(text), seq >= 0 else {
                throw Problem.badRequest("invalid-parameter", "`Last-Event-ID` must be a line's seq, not `\(text)`", field: "Last-Event-ID")
            }
            after = seq
        }
        let store = env.runtime.store
        let json = env.json
        let resumeAfter = after
        let stopping = env.stopping
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        let body = ResponseBody { writer in
            var cursor = resumeAfter
            while !Task.isCancelled && !stopping.isStopping {
                let page = try await store.logLines(attempt, after: cursor, limit: 1000, grep: grep)
                var chunk = ""
                for line in page.lines {
                    chunk += "id: \(line.seq)\nevent: line\ndata: \(json.scrub(Self.json(line).canonicalJSON()))\n\n"
                }
                if !chunk.isEmpty { try await writer.write(ByteBuffer(string: chunk)) }
                cursor = page.nextCursor ?? cursor
                if page.hasMore { continue }
                if page.attemptEnded {
                    try await writer.write(ByteBuffer(string: "event: end\ndata: {}\n\n"))
                    break
                }
                try await Task.sleep(for: Self.followInterval)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}
