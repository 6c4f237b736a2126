import Foundation
import LockstepCore

/// A JSON POST to a webhook (an alert), retried while the failure may pass: timeouts, refused
/// connections, 5xx, 408 and 429, with doubling backoff. For callers outside a task attempt; tasks use
/// `Delivery`, which also honours the attempt's deadline.
public struct Webhook: Sendable {
    public var url: URL
    public var timeout: Duration
    public var maxAttempts: Int
    public var backoff: Duration

    public init(url: URL, timeout: Duration = .seconds(10), maxAttempts: Int = 3, backoff: Duration = .seconds(1)) {
        self.url = url
        self.timeout = timeout
        self.maxAttempts = max(1, maxAttempts)
        self.backoff = backoff
    }

    /// Sends `payload`; `idempotencyKey` is the same for every attempt so the receiver can drop repeats.
    /// Throws the last failure, its message saying how many attempts were made.
    public func post(_ payload: JSONValue, idempotencyKey: String) async throws(OperatorError) {
        let body = Data(payload.canonicalJSON().utf8)
        let headers = ["Content-Type": "application/json", "Idempotency-Key": idempotencyKey]
        var wait = backoff
        for attempt in 1...maxAttempts {
            var failure: OperatorError
            do {
                let response = try await HTTPClient.send(method: "POST", url: url, headers: headers, body: body, timeout: timeout)
                if response.isSuccess { return }
                failure = HTTPClient.statusError(response, method: "POST", url: url)
            } catch {
                failure = error
            }
            guard failure.retryable, attempt < maxAttempts, failure.category != .cancelled else {
                failure.message += " (after \(attempt) attempt\(attempt == 1 ? "" : "s"))"
                throw failure
            }
            do { try await Task.sleep(for: wait) } catch {
                throw OperatorError(.cancelled, "POST to \(LockstepConfig.redacted(url.absoluteString)) cancelled", retryable: true)
            }
            wait = wait * 2
        }
        throw OperatorError(.internal, "webhook loop ended without a result", retryable: true)
    }
}
