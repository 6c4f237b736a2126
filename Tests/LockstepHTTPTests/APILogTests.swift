import Foundation
import LockstepCore
import LockstepHTTP
import LockstepServices
import Testing

/// A task attempt's log through the API: pages with a cursor, the tail, server-side grep, and
/// following it live over server-sent events until the attempt ends, resumable by Last-Event-ID.
@Suite(.serialized) struct APILogTests {
    @Test func anAttemptsLogIsPagedSearchedAndFollowedUntilTheAttemptEnds() async throws {
        let dag = DagSpec(id: "logged", tasks: [TaskSpec(id: "work", operator: "sleep", params: ["seconds": 2])])
        let system = try await APITestSystem(dags: [dag])
        let client = APIClient(base: system.base)
        try await client.logIn("admin", system.adminPassword)
        let triggered = try await client.send("POST", "/api/v1/dags/logged/runs", json: ["idempotency_key": "l1"])
        #expect(triggered.status == 201)
        let runID = "logged~l1"
        try await system.eventually("the attempt to run") { try await system.runtime.store.run(runID)?.tasks["work"]?.state == .running }
        let attempt = AttemptID(runID: runID, taskID: "work", tryNumber: 1)
        func lines(_ range: ClosedRange<Int>) -> [StoredLogLine] {
            range.map { StoredLogLine(seq: $0, time: Date(), stream: $0 % 2 == 0 ? "stderr" : "stdout", text: "line \($0)\($0 == 4 ? " ERROR disk" : "")") }
        }
        try await system.runtime.store.appendLogLines(attempt, lines(1...3))
        let path = "/api/v1/runs/\(runID)/tasks/work/tries/1/logs"

        // Follow while it runs: lines written during the follow arrive, then `end` once it has ended.
        async let followed = client.get(path + "?follow=true")
        try await system.runtime.store.appendLogLines(attempt, lines(4...5))
        let stream = try await followed
        #expect(stream.status == 200)
        #expect(stream.contentType == "text/event-stream")
        let ids = stream.text.split(separator: "\n").filter { $0.hasPrefix("id: ") }.map { String($0.dropFirst(4)) }
        #expect(ids == ["1", "2", "3", "4", "5"])
        #expect(stream.text.hasSuffix("event: end\ndata: {}\n\n"))
        #expect(try await system.waitForRun(runID).state == .succeeded)

        let resumed = try await client.send("GET", path + "?follow=true", headers: ["Last-Event-ID": "3"])
        #expect(resumed.text.split(separator: "\n").filter { $0.hasPrefix("id: ") } == ["id: 4", "id: 5"])

        let first = try await client.get(path + "?limit=2")
        #expect((first.object["lines"] as? [[String: Any]])?.compactMap { $0["text"] as? String } == ["line 1", "line 2"])
        #expect(first.object["attempt_ended"] as? Bool == true)
        let cursor = try #require(first.object["next_cursor"] as? String)
        let second = try await client.get(path + "?limit=2&cursor=\(cursor)")
        #expect((second.object["lines"] as? [[String: Any]])?.compactMap { $0["seq"] as? Int } == [3, 4])
        let tail = try await client.get(path + "?tail=2")
        #expect((tail.object["lines"] as? [[String: Any]])?.compactMap { $0["seq"] as? Int } == [4, 5])
        let grep = try await client.get(path + "?grep=ERROR")
        #expect((grep.object["lines"] as? [[String: Any]])?.compactMap { $0["text"] as? String } == ["line 4 ERROR disk"])

        try expectProblem(try await client.get("/api/v1/runs/\(runID)/tasks/nope/tries/1/logs"), 404, "unknown-task", field: "task_id")
        try expectProblem(try await client.get("/api/v1/runs/\(runID)/tasks/work/tries/9/logs"), 404, "unknown-try", field: "try_number")
        await system.close()
    }
}
