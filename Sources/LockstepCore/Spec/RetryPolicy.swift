/// How often and how late a failed attempt is tried again.
public struct RetryPolicy: Sendable, Hashable, Codable {
    /// Retries after the first attempt: a task runs at most `retries + 1` times.
    public var retries: Int
    public var delay: Duration
    /// Doubles the delay after every failed attempt, up to `maxDelay`.
    public var exponentialBackoff: Bool
    public var maxDelay: Duration?

    public init(retries: Int, delay: Duration = .seconds(300), exponentialBackoff: Bool = false, maxDelay: Duration? = nil) {
        self.retries = retries
        self.delay = delay
        self.exponentialBackoff = exponentialBackoff
        self.maxDelay = maxDelay
    }

    public static let none = RetryPolicy(retries: 0, delay: .zero)

    public var maxTries: Int { retries + 1 }

    /// The wait before try `failedTry + 1`, after try `failedTry` (1-based) failed.
    public func delay(afterTry failedTry: Int) -> Duration {
        var wait = delay
        if exponentialBackoff {
            // Deterministic (no jitter) so that replaying the same events gives the same timers.
            let doublings = min(max(failedTry - 1, 0), 30)
            wait = delay * (1 << doublings)
        }
        if let cap = maxDelay, wait > cap { wait = cap }
        return wait
    }
}
