import Foundation
import LockstepCore
import Logging

/// The idempotency key of an external effect: the same for every try and redelivery of one task in
/// one run (so the receiver can drop repeats), different for every other task or run.
public enum IdempotencyKey {
    public static func make(dagID: String, runID: String, taskID: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        allowed.insert(charactersIn: "-._~")
        // Percent-encoding keeps the key a valid header value and keeps `:` unambiguous as the separator.
        let part = { (s: String) in s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s }
        return "lockstep:\(part(dagID)):\(part(runID)):\(part(taskID))"
    }
}

/// POSTs a JSON payload with an `Idempotency-Key`, retrying what may pass (timeouts, refused
/// connections, 5xx, 408, 429) with doubling backoff. In a task attempt every try also fits the
/// attempt's deadline; outside one (an alert) each try has `timeout`.
public struct Delivery: Sendable {
    public var url: URL
    public var timeout: Duration
    public var maxAttempts: Int
    public var backoff: Duration

    struct Receipt: Sendable {
        var response: HTTPResponse
        var attempts: Int
    }

    public init(url: URL, timeout: Duration = .seconds(10), maxAttempts: Int = 3, backoff: Duration = .seconds(1)) {
        self.url = url
        self.timeout = timeout
        self.maxAttempts = max(1, maxAttempts)
        self.backoff = backoff
    }

    init(_ params: Params, defaultAttempts: Int) throws(OperatorError) {
        url = try HTTPClient.url(try params.requiredString("url"), param: "url", origin: params.origin)
        timeout = try params.seconds("timeout", default: 30)
        maxAttempts = max(1, try params.int("max_attempts", default: defaultAttempts))
        backoff = try params.seconds("backoff", default: 2)
    }

    /// Within a task attempt: tries stop at its deadline; failures are logged with its identity.
    func post(_ payload: JSONValue, key: String, _ context: OperatorContext) async throws(OperatorError) -> Receipt {
        try await send(payload, key: key, deadline: context.deadline, logger: context.taskLogger) { () throws(OperatorError) in
            try context.budget(cap: timeout)
        }
    }

    /// Outside a task (an alert): each try gets `timeout`. Throws the last failure.
    public func post(_ payload: JSONValue, key: String, logger: Logger) async throws(OperatorError) {
        _ = try await send(payload, key: key, deadline: nil, logger: logger) { () throws(OperatorError) in timeout }
    }

    private func send(
        _ payload: JSONValue, key: String, deadline: ContinuousClock.Instant?, logger: Logger,
        budget: () throws(OperatorError) -> Duration
    ) async throws(OperatorError) -> Receipt {
        let body = Data(payload.canonicalJSON().utf8)
        let headers = ["Content-Type": "application/json", "Accept": "application/json", "Idempotency-Key": key]
        var wait = backoff
        for attempt in 1...maxAttempts {
            let failure: OperatorError
            do {
                let response = try await HTTPClient.send(method: "POST", url: url, headers: headers, body: body,
                                                         timeout: try budget())
                if response.isSuccess { return Receipt(response: response, attempts: attempt) }
                failure = HTTPClient.statusError(response, method: "POST", url: url)
            } catch {
                failure = error
            }
            logger.warning("delivery attempt failed", metadata: [
                "attempt": .stringConvertible(attempt), "cause": .string(failure.code), "retryable": .stringConvertible(failure.retryable),
            ])
            guard failure.retryable, attempt < maxAttempts, failure.category != .cancelled else {
                throw attempt > 1 ? annotated(failure, attempts: attempt) : failure
            }
            if let deadline, ContinuousClock.now + wait >= deadline {
                throw annotated(failure, attempts: attempt, note: "no time left before the deadline for another attempt")
            }
            do { try await Task.sleep(for: wait) } catch {
                throw OperatorError(.cancelled, "delivery to \(LockstepConfig.redacted(url.absoluteString)) cancelled", retryable: true)
            }
            wait = wait * 2
        }
        // Unreachable: the loop returns or throws on its last attempt.
        throw OperatorError(.internal, "delivery loop ended without a result", retryable: true)
    }

    private func annotated(_ error: OperatorError, attempts: Int, note: String? = nil) -> OperatorError {
        var copy = error
        copy.message += " (after \(attempts) attempt\(attempts == 1 ? "" : "s")\(note.map { "; \($0)" } ?? ""))"
        return copy
    }
}
