import Foundation
import LockstepCore
import LockstepDrivers

/// `http`: one request per attempt, with templated headers and JSON body, an `Idempotency-Key` derived
/// from run and task on everything but GET/HEAD/OPTIONS, and a deadline. A status outside
/// `expect_status` fails with the status and a body excerpt. Output: `status` and the response JSON as
/// `body`, or only the fields `select` picks by JSON Pointer. Header values never appear in the log,
/// the output or an error, even when the server echoes them.
struct HTTPOperator: TaskOperator {
    static let excerptBytes = 300

    func run(_ context: OperatorContext) async throws(OperatorError) -> OperatorResult {
        let params = try Params(context)
        let origin = params.origin
        var spec = try HTTPRequestSpec(params)
        if !spec.isSafe, !spec.headers.keys.contains(where: { $0.lowercased() == "idempotency-key" }) {
            // Run and task, not the try: a retry or a redelivered command repeats the same key.
            spec.headers["Idempotency-Key"] = IdempotencyKey.make(dagID: context.dagID, runID: context.runID, taskID: context.taskID)
        }
        // The attempt's trace, unless the task sets its own trace headers.
        for (name, value) in context.traceHeaders where !spec.headers.keys.contains(where: { $0.lowercased() == name }) {
            spec.headers[name] = value
        }
        var mask = context.secrets
        mask.formUnion(spec.headerSecrets)
        context.log.protect(spec.headerSecrets)

        let shown = "\(spec.method) \(Redacted.uri(spec.url.absoluteString))"
        let budget = try context.budget(cap: spec.timeout)
        let (method, url, headers, body) = (spec.method, spec.url, spec.headers, spec.body)
        context.log.info("\(shown) (headers: \(headers.keys.sorted().joined(separator: ", ")); timeout \(CommandOperator.format(budget)))")
        let started = ContinuousClock.now
        let response: HTTPResponse
        do {
            response = try await driving { () async throws(DriverError) in
                try await HTTPClient.send(method: method, url: url, headers: headers, body: body, timeout: budget)
            }
        } catch {
            throw mask.apply(OperatorError(error.category, "task \(origin): \(error.message)", retryable: error.retryable))
        }
        context.log.info("\(shown) answered \(response.status) in \(CommandOperator.format(ContinuousClock.now - started)) "
            + "(\(response.body.count) bytes)")

        guard spec.accepts(response.status) else {
            throw mask.apply(statusError(response, shown: shown, spec: spec, origin: origin))
        }
        guard response.body.count <= spec.responseLimit else {
            throw OperatorError(.badResponse, "task \(origin): \(shown) answered \(response.body.count) bytes, over response_limit "
                + "(\(spec.responseLimit) bytes); select less or raise `response_limit`", retryable: false)
        }
        let json = response.json
        var output: [String: JSONValue] = ["status": .int(Int64(response.status))]
        if spec.select.isEmpty {
            output["body"] = json ?? (response.body.isEmpty ? .null : .string(String(decoding: response.body, as: UTF8.self)))
        } else {
            guard let json else {
                throw mask.apply(OperatorError(.badResponse, "task \(origin): \(shown) answered \(response.status) without a JSON body, "
                    + "so `select` has nothing to pick from: \(excerpt(response.body))", retryable: false))
            }
            for (name, pointer) in spec.select {
                guard let value = pointer.resolve(in: json) else {
                    throw mask.apply(OperatorError(.badResponse, "task \(origin): the response of \(shown) has nothing at `\(pointer)` "
                        + "(select.\(name)); it has \(outline(json))", retryable: false))
                }
                output[name] = value
            }
        }
        return OperatorResult(output: mask.apply(JSONValue.object(output)))
    }

    /// 5xx, 408 and 429 may pass later; any other unexpected status (a 4xx, or a 2xx that is not the one
    /// expected) will not change on a retry.
    private func statusError(_ response: HTTPResponse, shown: String, spec: HTTPRequestSpec, origin: String) -> OperatorError {
        let status = response.status
        let retryable = status >= 500 || status == 408 || status == 429
        var message = "task \(origin): \(shown) answered HTTP \(status), expected \(spec.expectedText)"
        if status == 401 || status == 403 { message += " (credentials refused)" }
        if !response.body.isEmpty { message += ": \(excerpt(response.body))" }
        return OperatorError(.httpStatus(status), message, retryable: retryable)
    }

    private func excerpt(_ body: Data) -> String {
        let text = String(decoding: body.prefix(Self.excerptBytes), as: UTF8.self)
        return body.count > Self.excerptBytes ? text + "…" : text
    }

    /// What a JSON document holds at its top, to say where a pointer could have gone.
    private func outline(_ json: JSONValue) -> String {
        switch json {
        case .object(let o): "keys \(o.keys.sorted().prefix(20).joined(separator: ", "))"
        case .array(let a): "a list of \(a.count)"
        default: "a single value"
        }
    }
}
