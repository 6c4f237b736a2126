/// An error that knows whether trying the same call again later may succeed (a broker that is down,
/// a leader that is moving) or not (a closed client, a fenced producer, a bad setting). Bus
/// implementations conform their errors, so components can ride out an outage without knowing
/// which bus they run on.
public protocol RetryableError: Error {
    var isRetryable: Bool { get }
}
