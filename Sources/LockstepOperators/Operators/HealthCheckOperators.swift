import Foundation
import LockstepCore
import LockstepDrivers

/// One probe of a `/health` endpoint: healthy means 2xx with a JSON body.
struct HealthProbe: Sendable {
    var service: String
    var url: URL
    var timeout: Duration

    /// The probe's outcome as JSON detail plus the error when unhealthy.
    func check(_ context: OperatorContext) async -> (detail: [String: JSONValue], error: OperatorError?) {
        var detail: [String: JSONValue] = ["url": .string(Redacted.uri(url.absoluteString))]
        do throws(OperatorError) {
            let budget = try context.budget(cap: timeout)
            let headers = context.traceHeaders.merging(["Accept": "application/json"]) { _, fixed in fixed }
            let response = try await driving { () async throws(DriverError) in
                try await HTTPClient.send(method: "GET", url: url, headers: headers, timeout: budget)
            }
            detail["http_status"] = .int(Int64(response.status))
            guard response.isSuccess else { throw OperatorError(HTTPClient.statusError(response, method: "GET", url: url)) }
            guard let body = response.json else {
                throw OperatorError(.badResponse, "GET \(Redacted.uri(url.absoluteString)) answered \(response.status) without a JSON body",
                                    retryable: false)
            }
            detail["status"] = "healthy"
            detail["body"] = body
            return (detail, nil)
        } catch {
            detail["status"] = "unhealthy"
            detail["cause"] = .string(error.code)
            detail["error"] = .string(error.message)
            return (detail, error)
        }
    }

    func event(_ detail: [String: JSONValue], _ context: OperatorContext, checkedAt: String) -> EmittedEvent {
        var data = detail
        data["service"] = .string(service)
        data["checked_at"] = .string(checkedAt)
        data["dag_id"] = .string(context.dagID)
        data["run_id"] = .string(context.runID)
        data["task_id"] = .string(context.taskID)
        return EmittedEvent(.healthResult, data: .object(data), subject: service)
    }
}

/// `http_health_check`: GET `url`; fails unless it answers 2xx with JSON (the seed's `check_fastapi_health`).
struct HTTPHealthCheckOperator: TaskOperator {
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        let probe = HealthProbe(
            service: try params.string("service") ?? context.taskID,
            url: try params.url("url"),
            timeout: try params.seconds("timeout", default: 30))
        let (detail, error) = await probe.check(context)
        let checkedAt = Timestamp.iso(context.now)
        if let error {
            context.taskLogger.warning("health check failed", metadata: ["service": .string(probe.service), "cause": .string(error.code)])
            // Subscribers hear about the unhealthy service too, not only about healthy ones.
            throw error.publishing([probe.event(detail, context, checkedAt: checkedAt)])
        }
        var output = detail
        output["checked_at"] = .string(checkedAt)
        context.taskLogger.info("service healthy", metadata: ["service": .string(probe.service), "url": .string(detail["url"]?.stringValue ?? "")])
        return OperatorResult(output: .object(output), events: [probe.event(detail, context, checkedAt: checkedAt)])
    }
}

/// `multi_health_check`: probes several services at once and succeeds while at least `min_healthy` answer
/// (the seed's `check_services`, which carried on with one healthy service).
struct MultiHealthCheckOperator: TaskOperator {
    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        guard let services = try params.object("services"), !services.isEmpty else {
            throw .config("task \(params.origin): param `services` must map service names to {url: …}")
        }
        let defaultTimeout = try params.seconds("timeout", default: 15)
        let minHealthy = try params.int("min_healthy", default: 1)
        var probes: [HealthProbe] = []
        for (name, spec) in services.sorted(by: { $0.key < $1.key }) {
            let urlText = spec["url"]?.stringValue ?? spec.stringValue
            guard let urlText else { throw .config("task \(params.origin): service `\(name)` needs a `url`") }
            var timeout = defaultTimeout
            if let secs = spec["timeout"]?.doubleValue, secs >= 0 { timeout = .milliseconds(Int64(secs * 1000)) }
            probes.append(HealthProbe(service: name, url: try Params.url(urlText, param: "services.\(name).url", origin: params.origin),
                                      timeout: timeout))
        }

        let results = await withTaskGroup(of: (Int, [String: JSONValue], OperatorError?).self) { group in
            for (index, probe) in probes.enumerated() {
                group.addTask { let r = await probe.check(context); return (index, r.detail, r.error) }
            }
            var collected: [(Int, [String: JSONValue], OperatorError?)] = []
            for await result in group { collected.append(result) }
            return collected.sorted { $0.0 < $1.0 }
        }

        let checkedAt = Timestamp.iso(context.now)
        var output: [String: JSONValue] = ["check_timestamp": .string(checkedAt)]
        var details: [String: JSONValue] = [:]
        var unhealthy: [String] = []
        var events: [EmittedEvent] = []
        for (index, detail, error) in results {
            let probe = probes[index]
            output[probe.service] = error == nil ? "healthy" : "unhealthy"
            details[probe.service] = .object(detail)
            if let error { unhealthy.append("\(probe.service) (\(error.code): \(error.message))") }
            events.append(probe.event(detail, context, checkedAt: checkedAt))
        }
        output["details"] = .object(details)
        let healthy = probes.count - unhealthy.count
        output["healthy_count"] = .int(Int64(healthy))
        guard healthy >= minHealthy else {
            throw OperatorError(.unavailable, "only \(healthy) of \(probes.count) services healthy, \(minHealthy) needed: "
                + unhealthy.joined(separator: "; "), retryable: true).publishing(events)
        }
        let warnings = unhealthy.isEmpty ? [] : ["unhealthy: " + unhealthy.joined(separator: "; ")]
        for warning in warnings { context.taskLogger.warning("\(warning)") }
        return OperatorResult(output: .object(output), warnings: warnings, events: events)
    }
}
