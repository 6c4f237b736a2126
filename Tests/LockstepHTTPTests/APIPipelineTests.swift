import Foundation
import LockstepCore
import LockstepHTTP
import Testing

/// A pipeline driven through the API over real loopback HTTP, against the components running in
/// this process on the embedded bus and SQLite state.
@Suite(.serialized) struct APIPipelineTests {
    @Test func aRunTriggeredThroughTheAPIRunsAndItsRunAndEventHistoryAreServed() async throws {
        let system = try await APITestSystem()
        let client = APIClient(base: system.base)
        try await client.logIn("admin", system.adminPassword)

        let triggered = try await client.send("POST", "/api/v1/dags/api_pipeline/runs", json: ["conf": ["epochs": 3], "idempotency_key": "k1"])
        #expect(triggered.status == 201, "\(triggered.text)")
        let runID = try #require(triggered.object["dag_run_id"] as? String)
        #expect(runID == "api_pipeline~k1")
        #expect(triggered.header("location") == "/api/v1/runs/api_pipeline~k1")
        let run = try await system.waitForRun(runID)
        #expect(run.state == .succeeded)

        let detail = try await client.get("/api/v1/runs/\(runID)")
        #expect(detail.status == 200)
        #expect(detail.object["state"] as? String == "succeeded")
        let conf = detail.object["conf"] as? [String: Any]
        #expect(conf?["epochs"] as? Int == 3)
        let tasks = try #require(detail.object["task_instances"] as? [[String: Any]])
        #expect(tasks.map { $0["task_id"] as? String } == ["extract", "train", "report"])
        #expect(tasks.allSatisfy { $0["state"] as? String == "succeeded" && ($0["tries"] as? [Any])?.count == 1 })

        // The event history: the request first, lifecycle events on the way, run.succeeded last.
        var types: [String] = []
        try await system.eventually("the run's last event to be on the topic") {
            let events = try await client.get("/api/v1/runs/\(runID)/events")
            types = (events.object["events"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
            return types.last == "lockstep.run.succeeded"
        }
        #expect(types.first == "lockstep.run.requested")
        #expect(types.contains("lockstep.task.dispatched"))
        #expect(types.contains("lockstep.attempt.succeeded"))
        #expect(types.filter { $0 == "lockstep.task.succeeded" }.count == 3)

        let listed = try await client.get("/api/v1/dags/api_pipeline/runs?state=succeeded")
        #expect((listed.object["dag_runs"] as? [[String: Any]])?.compactMap { $0["dag_run_id"] as? String } == [runID])
        let none = try await client.get("/api/v1/runs?state=failed")
        #expect((none.object["dag_runs"] as? [Any])?.isEmpty == true)

        let dags = try await client.get("/api/v1/dags")
        let first = (dags.object["dags"] as? [[String: Any]])?.first
        #expect(first?["dag_id"] as? String == "api_pipeline")
        #expect((first?["latest_dag_runs"] as? [[String: Any]])?.first?["state"] as? String == "succeeded")

        // A pause goes to the ops topic with the user's name: the audit trail shows who.
        let paused = try await client.send("PATCH", "/api/v1/dags/api_pipeline", json: ["is_paused": true])
        #expect(paused.status == 200)
        try await system.eventually("the pause to reach the store") { try await system.runtime.store.pausedDags().contains("api_pipeline") }
        let refused = try await client.send("POST", "/api/v1/dags/api_pipeline/runs", json: [:])
        #expect(refused.status == 409)
        #expect(refused.object["field"] as? String == "dag_id")
        let audit = try await client.get("/api/v1/audit")
        let entry = (audit.object["entries"] as? [[String: Any]])?.first
        #expect(entry?["action"] as? String == "dag_paused")
        #expect(entry?["actor"] as? String == "admin")
        await system.close()
    }

    @Test func runsArePagedWithAnOpaqueCursor() async throws {
        let system = try await APITestSystem()
        let client = APIClient(base: system.base)
        try await client.logIn("admin", system.adminPassword)
        for i in 0..<5 {
            let answer = try await client.send("POST", "/api/v1/dags/other_pipeline/runs", json: ["idempotency_key": "p\(i)"])
            #expect(answer.status == 201)
        }
        for i in 0..<5 { _ = try await system.waitForRun("other_pipeline~p\(i)") }
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try await client.get("/api/v1/runs?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
            #expect(page.status == 200)
            seen += (page.object["dag_runs"] as? [[String: Any]] ?? []).compactMap { $0["dag_run_id"] as? String }
            cursor = page.object["next_cursor"] as? String
            pages += 1
        } while cursor != nil && pages < 10
        #expect(pages == 3)
        #expect(seen == (0..<5).reversed().map { "other_pipeline~p\($0)" })
        let bad = try await client.get("/api/v1/runs?cursor=not-a-cursor")
        #expect(bad.status == 400)
        #expect(bad.object["field"] as? String == "cursor")
        await system.close()
    }
}
