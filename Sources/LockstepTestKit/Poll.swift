import Foundation

/// Checks `condition` every `interval` until it holds; throws `TestFailure` naming `what` once
/// `timeout` of real time has passed without it. What a test waits on instead of a fixed sleep.
public func poll(
    _ what: String, timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(10),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else { throw TestFailure("timed out after \(timeout) waiting for \(what)") }
        try await Task.sleep(for: interval)
    }
}

/// A test's own failure: what it waited for or expected, and what it saw.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
