import Foundation
import LockstepCore
import Logging

/// POSTs a JSON payload with an `Idempotency-Key`, retrying what may pass (timeouts, refused
/// connections, 5xx, 408, 429) with doubling backoff. In a task attempt every try also fits the
/// attempt's deadline; outside one (an alert) each try has `timeout`.
public struct Delivery: Sendable {
    public var url: URL
    public var timeout: Duration
    public var maxAttempts: Int
    public var backoff: Duration
    /// Sent with every try beside the fixed ones (e.g. a task's `traceparent`); the fixed ones win.
    public var headers: [String: String] = [:]

    public struct Receipt: Sendable {
        public var response: HTTPResponse
        public var attempts: Int
    }

    public init(url: URL, timeout: Duration = .seconds(10), maxAttempts: Int = 3, backoff: Duration = .seconds(1)) {
        self.url = url
        self.timeout = timeout
        self.maxAttempts = max(1, maxAttempts)
        self.backoff = backoff
    }

    /// Tries until one passes, one fails for good, or `deadline` leaves no room for the next; each try
    /// gets what `budget` allows (a task attempt's remaining time, capped at `timeout`).
    public func post(
        _ payload: JSONValue, key: String, deadline: ContinuousClock.Instant, logger: Logger,
        budget: () throws(DriverError) -> Duration
    ) async throws(DriverError) -> Receipt {
        try await send(payload, key: key, deadline: deadline, logger: logger, budget: budget)
    }

    /// Outside a task (an alert): each try gets `timeout`. Throws the last failure.
    public func post(_ payload: JSONValue, key: String, logger: Logger) async throws(DriverError) {
        _ = try await send(payload, key: key, deadline: nil, logger: logger) { () throws(DriverError) in timeout }
    }

    private func send(
        _ payload: JSONValue, key: String, deadline: ContinuousClock.Instant?, logger: Logger,
        budget: () throws(DriverError) -> Duration
    ) async throws(DriverError) -> Receipt {
        let body = Data(payload.canonicalJSON().utf8)
        let headers = self.headers.merging(
            ["Content-Type": "application/json", "Accept": "application/json", "Idempotency-Key": key]) { _, fixed in fixed }
        var wait = backoff
        for attempt in 1...maxAttempts {
            let failure: DriverError
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
                throw DriverError(.cancelled, "delivery to \(Redacted.uri(url.absoluteString)) cancelled", retryable: true)
            }
            wait = wait * 2
        }
        // Unreachable: the loop returns or throws on its last attempt.
        throw DriverError(.internal, "delivery loop ended without a result", retryable: true)
    }

    private func annotated(_ error: DriverError, attempts: Int, note: String? = nil) -> DriverError {
        var copy = error
        copy.message += " (after \(attempts) attempt\(attempts == 1 ? "" : "s")\(note.map { "; \($0)" } ?? ""))"
        return copy
    }
}
