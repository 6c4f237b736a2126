import Foundation
import LockstepCore
import LockstepHTTP
import Testing

/// Trace context through the API over real loopback HTTP: a trigger continues the caller's
/// `traceparent`, the run's JSON and its page show the run's trace id.
@Suite(.serialized) struct APITraceTests {
    @Test func aTriggerContinuesTheCallersTraceAndTheRunShowsItsTraceID() async throws {
        let system = try await APITestSystem()
        let client = APIClient(base: system.base)
        try await client.logIn("admin", system.adminPassword)

        let traced = try await client.send(
            "POST", "/api/v1/dags/api_pipeline/runs", json: ["idempotency_key": "traced"],
            headers: ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "rojo=1"])
        #expect(traced.status == 201, "\(traced.text)")
        #expect(traced.object["trace_id"] as? String == "0af7651916cd43dd8448eb211c80319c")
        let untraced = try await client.send("POST", "/api/v1/dags/api_pipeline/runs", json: ["idempotency_key": "untraced"],
                                             headers: ["traceparent": "not-a-traceparent"])
        #expect(untraced.status == 201, "a malformed traceparent is ignored: \(untraced.text)")
        let fresh = try #require(untraced.object["trace_id"] as? String)
        #expect(TraceContext.isTraceID(fresh) && fresh != "0af7651916cd43dd8448eb211c80319c")

        for (runID, traceID) in [("api_pipeline~traced", "0af7651916cd43dd8448eb211c80319c"), ("api_pipeline~untraced", fresh)] {
            let run = try await system.waitForRun(runID)
            #expect(run.state == .succeeded)
            #expect(run.trace?.traceID == traceID)
            let detail = try await client.get("/api/v1/runs/\(runID)")
            #expect(detail.object["trace_id"] as? String == traceID)
        }
        #expect(try await system.waitForRun("api_pipeline~traced").trace?.tracestate == "rojo=1")

        let ui = APIClient(base: system.base)
        _ = try await ui.startSession("admin", system.adminPassword)
        let page = try await ui.get("/runs/api_pipeline~traced")
        #expect(page.status == 200)
        #expect(page.text.contains("<code id=\"run-trace-id\">0af7651916cd43dd8448eb211c80319c</code>"), "\(page.text.prefix(400))")
        await system.close()
    }
}
