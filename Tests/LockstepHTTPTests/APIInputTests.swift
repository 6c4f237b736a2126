import Foundation
import LockstepHTTP
import Testing

/// Bad requests each get the right status and a problem detail naming the cause, and the server
/// keeps serving.
@Suite(.serialized) struct APIInputTests {
    @Test func badRequestsGetProblemDetailsNamingTheCause() async throws {
        let system = try await APITestSystem()
        let client = APIClient(base: system.base)
        try await client.logIn("admin", system.adminPassword)
        let trigger = "/api/v1/dags/api_pipeline/runs"

        let malformed = try await client.send("POST", trigger, body: Data(#"{"conf": {"epochs": 3"#.utf8), headers: ["Content-Type": "application/json"])
        try expectProblem(malformed, 400, "malformed-json", field: "body")

        let wrongType = try await client.send("POST", trigger, body: Data("conf=1".utf8), headers: ["Content-Type": "application/x-www-form-urlencoded"])
        try expectProblem(wrongType, 415, "unsupported-media-type", field: "Content-Type")

        let big = Data(("{\"conf\": {\"blob\": \"" + String(repeating: "x", count: 2 << 20) + "\"}}").utf8)
        let oversized = try await client.send("POST", trigger, body: big, headers: ["Content-Type": "application/json"])
        try expectProblem(oversized, 413, "body-too-large", field: "body")

        let unknown = try await client.send("POST", "/api/v1/dags/no_such_dag/runs", json: ["conf": [:]])
        try expectProblem(unknown, 404, "unknown-dag", field: "dag_id")
        #expect((unknown.object["detail"] as? String ?? "").contains("no_such_dag"))

        let badConf = try await client.send("POST", trigger, json: ["conf": ["epochs": "three"]])
        try expectProblem(badConf, 422, "conf-invalid", field: "conf")
        #expect((badConf.object["detail"] as? String ?? "").contains("epochs"))

        let misspelt = try await client.send("POST", trigger, json: ["cnof": [:]])
        try expectProblem(misspelt, 400, "unknown-member", field: "cnof")

        let badLimit = try await client.get("/api/v1/runs?limit=0")
        try expectProblem(badLimit, 400, "invalid-parameter", field: "limit")

        let unknownRun = try await client.get("/api/v1/runs/nope~1")
        try expectProblem(unknownRun, 404, "unknown-run", field: "run_id")

        // Still serving, and none of it started a run.
        let version = try await client.get("/api/v1/version")
        #expect(version.status == 200)
        let runs = try await client.get("/api/v1/runs")
        #expect((runs.object["dag_runs"] as? [Any])?.isEmpty == true)
        await system.close()
    }
}

func expectProblem(_ e: Exchange, _ status: Int, _ kind: String, field: String?, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(e.status == status, "\(e.method) \(e.path): \(e.text)", sourceLocation: sourceLocation)
    #expect(e.contentType == "application/problem+json", sourceLocation: sourceLocation)
    #expect(e.object["type"] as? String == "urn:lockstep:problem:\(kind)", "\(e.text)", sourceLocation: sourceLocation)
    #expect(e.object["status"] as? Int == status, sourceLocation: sourceLocation)
    #expect((e.object["title"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
    #expect((e.object["detail"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
    if let field { #expect(e.object["field"] as? String == field, "\(e.text)", sourceLocation: sourceLocation) }
}
