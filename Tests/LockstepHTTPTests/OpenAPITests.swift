import Foundation
import LockstepHTTP
import LockstepTestSupport
import Testing

/// `api/openapi.yaml` and the server agree: the same routes with the same roles, and real responses
/// valid against the document's schemas.
@Suite(.serialized) struct OpenAPITests {
    struct Operation: Hashable, CustomStringConvertible {
        var method: String
        var path: String
        var role: String?
        var description: String { "\(method) \(path) (\(role ?? "public"))" }
    }

    static func documented() async throws -> Set<Operation> {
        let output = try await Python.run(arguments: ["api/check_openapi.py", "routes"], input: "")
        let list = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] ?? []
        return Set(list.map { Operation(method: $0["method"] as! String, path: $0["path"] as! String, role: $0["role"] as? String) })
    }

    @Test func theDocumentNamesEveryRouteTheServerAnswersAndNoOther() async throws {
        let system = try await APITestSystem()
        let served = Set(system.server.routes.map { Operation(method: $0.method, path: $0.path, role: $0.role?.rawValue) })
        let documented = try await Self.documented()
        #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented).sorted { $0.description < $1.description })")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted { $0.description < $1.description })")
        // Hummingbird's own table holds the same routes (nothing registered behind the route table's back).
        let router = Set(system.server.routerRoutes.map { line in
            line.split(separator: "/", omittingEmptySubsequences: false).map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
        })
        #expect(router == Set(served.map { "\($0.method) \($0.path)" }))

        // And the running server answers each one (a route-level answer, not "no such route").
        let client = APIClient(base: system.base)
        for op in documented where op.path != "/api/v1/events/stream" {
            let path = op.path.replacingOccurrences(of: "{dag_id}", with: "api_pipeline").replacingOccurrences(of: "{run_id}", with: "x~1")
                .replacingOccurrences(of: "{deadletter_id}", with: "x").replacingOccurrences(of: "{task_id}", with: "t")
                .replacingOccurrences(of: "{try_number}", with: "1")
            let answer = try await client.send(op.method, path)
            #expect(answer.object["type"] as? String != "urn:lockstep:problem:no-such-route", "\(op) is not answered")
        }
        let unknown = try await client.get("/api/v1/nothing-here")
        try expectProblem(unknown, 404, "no-such-route", field: "path")
        await system.close()
    }

    @Test func realResponsesMatchTheDocumentsSchemas() async throws {
        let system = try await APITestSystem()
        let client = APIClient(base: system.base)
        // Errors before login: 401s, a bad login.
        _ = try await client.get("/api/v1/dags")
        _ = try await client.send("POST", "/api/v1/auth/token", json: ["username": "admin", "password": "wrong"])
        _ = try await client.get("/api/v1/health")
        _ = try await client.get("/api/v1/version")
        _ = try await client.get("/metrics")
        _ = try await client.send("POST", "/api/v1/auth/session", json: ["username": "admin", "password": system.adminPassword])
        try await client.logIn("admin", system.adminPassword)
        let viewer = try await client.send("POST", "/api/v1/users", json: ["username": "v", "role": "viewer"])
        _ = try await client.send("POST", "/api/v1/users", json: ["username": "v", "role": "viewer", "password": "long-enough-password"])
        _ = try await client.get("/api/v1/users")
        _ = try await client.get("/api/v1/auth/session")

        let run = try await client.send("POST", "/api/v1/dags/api_pipeline/runs", json: ["conf": ["epochs": 2], "idempotency_key": "s1"])
        let runID = try #require(run.object["dag_run_id"] as? String)
        _ = try await system.waitForRun(runID)
        try await system.eventually("the run's events") {
            let events = try await client.get("/api/v1/runs/\(runID)/events")
            return (events.object["events"] as? [[String: Any]])?.last?["type"] as? String == "lockstep.run.succeeded"
        }
        for path in ["/api/v1/dags", "/api/v1/dags?tags=api&limit=1", "/api/v1/dags/api_pipeline", "/api/v1/dags/nope", "/api/v1/runs",
                     "/api/v1/runs?state=succeeded&run_type=manual&logical_date_gte=2020-01-01T00:00:00Z", "/api/v1/dags/api_pipeline/runs",
                     "/api/v1/runs/\(runID)", "/api/v1/runs/nope", "/api/v1/pools", "/api/v1/variables", "/api/v1/connections",
                     "/api/v1/audit", "/api/v1/stats", "/api/v1/deadletters", "/api/v1/runs?limit=abc",
                     "/api/v1/runs/\(runID)/tasks/train/tries/1/logs", "/api/v1/runs/\(runID)/tasks/train/tries/1/logs?follow=true"] {
            _ = try await client.get(path)
        }
        _ = try await client.send("POST", "/api/v1/dags/api_pipeline/runs", json: ["conf": ["epochs": "x"]])
        _ = try await client.send("POST", "/api/v1/dags/api_pipeline/runs", body: Data("{".utf8), headers: ["Content-Type": "application/json"])
        _ = try await client.send("POST", "/api/v1/dags/api_pipeline/runs", body: Data("x".utf8), headers: ["Content-Type": "text/plain"])
        _ = try await client.send("POST", "/api/v1/runs/\(runID)/cancel", json: [:])
        _ = try await client.send("POST", "/api/v1/replay", json: ["topic": "lockstep.runs.requests", "from_offset": "0:0", "dry_run": true])
        _ = try await client.send("POST", "/api/v1/replay", json: ["topic": "lockstep.runs.events", "from_offset": "0:0"])
        _ = try await client.send("POST", "/api/v1/replay", json: ["topic": "lockstep.runs.requests", "from_offset": "0:0", "dag_id": "other_pipeline"])
        _ = try await client.send("POST", "/api/v1/backfills", json: ["dag_id": "api_pipeline", "from": "2025-09-16T00:00:00Z", "to": "2025-09-17T00:00:00Z", "dry_run": true])
        _ = try await client.send("POST", "/api/v1/deadletters/none/redrive")
        _ = try await client.send("PATCH", "/api/v1/dags/other_pipeline", json: ["is_paused": true])
        let viewerClient = APIClient(base: system.base)
        try await viewerClient.logIn("v", try #require(viewer.object["password"] as? String))
        let forbidden = try await viewerClient.send("POST", "/api/v1/dags/api_pipeline/runs", json: [:])
        #expect(forbidden.status == 403)
        _ = try await client.send("DELETE", "/api/v1/auth/session")

        let exchanges = client.exchanges + viewerClient.exchanges
        let templates = system.server.routes
        let records: [[String: Any]] = exchanges.map { e in
            [
                "method": e.method, "route": Self.template(e.path, e.method, templates) ?? e.path, "status": e.status,
                "content_type": e.contentType, "body": e.text,
            ]
        }
        #expect(Set(records.map { $0["status"] as! Int }).isSuperset(of: [200, 201, 202, 204, 400, 401, 403, 404, 409, 415, 422]))
        let input = String(decoding: try JSONSerialization.data(withJSONObject: records), as: UTF8.self)
        do {
            _ = try await Python.run(arguments: ["api/check_openapi.py", "validate"], input: input)
        } catch {
            Issue.record("responses not as documented: \(error)")
        }
        await system.close()
    }

    /// The route template a concrete path was served by.
    static func template(_ path: String, _ method: String, _ routes: [RouteSpec]) -> String? {
        let concrete = path.split(separator: "?").first.map(String.init) ?? path
        let parts = concrete.split(separator: "/", omittingEmptySubsequences: false)
        return routes.first { route in
            let pattern = route.path.split(separator: "/", omittingEmptySubsequences: false)
            return route.method == method && pattern.count == parts.count
                && zip(pattern, parts).allSatisfy { p, c in p.hasPrefix("{") || p == c }
        }?.path
    }
}
