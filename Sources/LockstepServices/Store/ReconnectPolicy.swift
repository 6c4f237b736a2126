import Foundation

/// How the state store waits for its database to come back: capped exponential backoff between
/// connection tries, for at most `budget` per operation, after which the operation fails with a
/// retryable `StateStoreError.unavailable` (the next operation starts trying again).
public struct ReconnectPolicy: Sendable, Hashable {
    /// The wait after the first failed try; the first try after a break is immediate.
    public var initialDelay: Duration
    /// The longest wait between two tries.
    public var maxDelay: Duration
    /// How long one operation keeps trying after the connection broke. A PostgreSQL restart takes a
    /// few seconds and a failover tens of seconds: both fit in the default, so callers never see them.
    public var budget: Duration
    /// Each wait is shortened by up to this fraction at random, so processes that lost the same
    /// server at the same instant do not all knock at once.
    public var jitter: Double

    public init(initialDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(5), budget: Duration = .seconds(30),
                jitter: Double = 0.2) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.budget = budget
        self.jitter = min(max(jitter, 0), 1)
    }

    public static let standard = ReconnectPolicy()

    /// The wait before try number `failures + 1`, without jitter: 0, initial, 2×initial, … up to max.
    public func delay(afterFailures failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        var delay = initialDelay
        for _ in 1..<failures {
            delay *= 2
            if delay >= maxDelay { return maxDelay }
        }
        return min(delay, maxDelay)
    }

    /// `delay(afterFailures:)` with jitter applied.
    func jitteredDelay(afterFailures failures: Int) -> Duration {
        let base = delay(afterFailures: failures)
        guard jitter > 0, base > .zero else { return base }
        return base * (1 - Double.random(in: 0...jitter))
    }
}
