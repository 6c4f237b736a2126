import Foundation
import LockstepCore
import LockstepOperators
import LockstepTestSupport
import Testing

@Suite("Health checks against the reference services")
struct HealthCheckTests {
    @Test("http_health_check: a healthy FastAPI gives the seed's output and a health event")
    func healthy() async throws {
        let fastapi = try await FastAPIService.shared()
        let context = try makeContext(task: "check_fastapi_health", params: ["url": "{{ var.FASTAPI_BASE_URL }}/health"],
                                      variables: ["FASTAPI_BASE_URL": fastapi.baseURL])
        let result = try await expectSuccess("http_health_check", context)
        #expect(result.output["status"] == "healthy")
        #expect(result.output["http_status"] == 200)
        #expect(result.output["url"]?.stringValue == "\(fastapi.baseURL)/health")
        #expect(result.output["body"]?["service"] == "fastapi-recommendation")
        #expect(result.output["checked_at"] == "2025-09-18T02:00:05.250Z")
        #expect(result.events.count == 1)
        #expect(result.events.first?.kind == .healthResult)
        #expect(result.events.first?.data["status"] == "healthy")
        #expect(context.params["url"] == "{{ var.FASTAPI_BASE_URL }}/health", "params stay templates for events")
    }

    @Test("http_health_check: a service that is down is unavailable and retryable")
    func serviceDown() async throws {
        let port = try ClosedPort.next()
        let error = try await expectFailure("http_health_check", try makeContext(params: ["url": "http://127.0.0.1:\(port)/health", "timeout": 5]))
        #expect(error.category == .unavailable)
        #expect(error.retryable)
    }

    @Test("http_health_check: HTTP 500 is an http_status error, retryable")
    func http500() async throws {
        let fastapi = try await FastAPIService.start(environment: ["FASTAPI_FAIL_STATUS": "500"])
        defer { fastapi.stop() }
        let error = try await expectFailure("http_health_check", try makeContext(params: ["url": "\(fastapi.baseURL)/health"]))
        #expect(error.category == .httpStatus(500))
        #expect(error.retryable)
    }

    @Test("http_health_check: a 4xx is not retryable")
    func http404() async throws {
        let fastapi = try await FastAPIService.shared()
        let error = try await expectFailure("http_health_check", try makeContext(params: ["url": "\(fastapi.baseURL)/no-such-path"]))
        #expect(error.category == .httpStatus(404))
        #expect(!error.retryable)
    }

    @Test("http_health_check: a response slower than the timeout is a retryable timeout")
    func slowResponse() async throws {
        let fastapi = try await FastAPIService.start()
        defer { fastapi.stop() }
        try await fastapi.control(["delay_seconds": 5])
        let error = try await expectFailure("http_health_check", try makeContext(params: ["url": "\(fastapi.baseURL)/health", "timeout": 1]))
        #expect(error.category == .timeout)
        #expect(error.retryable)
    }

    @Test("http_health_check: a server that accepts and never answers times out")
    func silentServer() async throws {
        let silent = try SilentServer()
        let error = try await expectFailure("http_health_check", try makeContext(params: ["url": "\(silent.baseURL)/health", "timeout": 1]))
        #expect(error.category == .timeout, "\(error)")
        #expect(error.retryable)
        withExtendedLifetime(silent) {}
    }

    @Test("http_health_check: the task deadline caps a longer param timeout")
    func deadlineCapsTimeout() async throws {
        let silent = try SilentServer()
        let error = try await expectFailure("http_health_check",
                                            try makeContext(params: ["url": "\(silent.baseURL)/health", "timeout": 600], timeout: .seconds(1)))
        #expect(error.category == .timeout, "\(error)")
        withExtendedLifetime(silent) {}
    }

    @Test("multi_health_check: both reference services healthy gives the seed's health report")
    func bothHealthy() async throws {
        async let fastapiStart = FastAPIService.shared()
        async let nodeStart = NodeService.start()
        let (fastapi, node) = try await (fastapiStart, nodeStart)
        defer { node.stop() }
        let context = try makeContext(task: "check_services", params: [
            "services": [
                "nodejs_service": ["url": "{{ var.NODEJS_BASE_URL }}/health"],
                "fastapi_service": ["url": "{{ var.FASTAPI_BASE_URL }}/health"],
            ],
            "timeout": 15, "min_healthy": 1,
        ], variables: ["FASTAPI_BASE_URL": fastapi.baseURL, "NODEJS_BASE_URL": node.baseURL])
        let result = try await expectSuccess("multi_health_check", context)
        #expect(result.output["nodejs_service"] == "healthy")
        #expect(result.output["fastapi_service"] == "healthy")
        #expect(result.output["check_timestamp"] == "2025-09-18T02:00:05.250Z")
        #expect(result.output["details"]?["nodejs_service"]?["body"]?["service"] == "nodejs-backend")
        #expect(result.warnings.isEmpty)
        #expect(Set(result.events.compactMap(\.subject)) == ["nodejs_service", "fastapi_service"])
    }

    @Test("multi_health_check: one service down still succeeds, with a warning naming it")
    func oneDown() async throws {
        let node = try await NodeService.start()
        defer { node.stop() }
        let fastapiPort = try ClosedPort.next()
        let context = try makeContext(params: [
            "services": ["nodejs_service": ["url": "\(node.baseURL)/health"],
                         "fastapi_service": ["url": "http://127.0.0.1:\(fastapiPort)/health"]],
        ])
        let result = try await expectSuccess("multi_health_check", context)
        #expect(result.output["nodejs_service"] == "healthy")
        #expect(result.output["fastapi_service"] == "unhealthy")
        #expect(result.output["details"]?["fastapi_service"]?["cause"] == "unavailable")
        #expect(result.warnings.count == 1)
        #expect(result.warnings.first?.contains("fastapi_service") == true)
        #expect(result.events.first { $0.subject == "fastapi_service" }?.data["status"] == "unhealthy")
    }

    @Test("multi_health_check: fewer healthy than min_healthy fails, retryable")
    func noneHealthy() async throws {
        let node = try await NodeService.start()
        defer { node.stop() }
        try await node.setHealthy(false)
        let silent = try SilentServer()
        let error = try await expectFailure("multi_health_check", try makeContext(params: [
            "services": ["nodejs_service": ["url": "\(node.baseURL)/health"], "fastapi_service": ["url": "\(silent.baseURL)/health"]],
            "timeout": 1,
        ]))
        #expect(error.category == .unavailable)
        #expect(error.retryable)
        #expect(error.message.contains("nodejs_service") && error.message.contains("fastapi_service"))
        withExtendedLifetime(silent) {}
    }
}
