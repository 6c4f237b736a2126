import Foundation
import LockstepCore
#if canImport(Glibc)
import Glibc
#endif

/// Runs a unit of database work on its own thread with one connection, inside a time budget.
///
/// The budget bounds each phase: a polled connect for connecting, `statement_timeout` for the
/// server's work, and a watchdog that shuts the socket down shortly after the deadline in case the
/// server itself stops answering (statement_timeout cannot fire on a hung server).
public enum PostgresSession {
    public static func run<T: Sendable>(
        connection name: String, uri: String, budget: Duration,
        _ body: @escaping @Sendable (PostgresConnection) throws(DriverError) -> T
    ) async throws(DriverError) -> T {
        do {
            return try await BlockingThread.run(name: "lockstep-pq-\(name)") { () throws -> T in
                let deadline = ContinuousClock.now + budget
                let connection = try PostgresConnection(uri: uri, name: name, deadline: deadline)
                defer { connection.close() }
                let left = deadline - ContinuousClock.now
                guard left > .zero else {
                    throw DriverError(.timeout, "connected to \(connection.display) but the deadline passed", retryable: true)
                }
                let watchdog = Watchdog(socket: connection.socket, at: deadline + .milliseconds(500))
                do {
                    try connection.query("SET statement_timeout = \(max(1, Int(left.seconds * 1000)))")
                    let value = try body(connection)
                    _ = watchdog.disarm()
                    return value
                } catch {
                    if watchdog.disarm() {
                        throw DriverError(.timeout, "\(connection.display) did not answer before the deadline", retryable: true)
                    }
                    throw error
                }
            }
        } catch let error as DriverError {
            throw error
        } catch {
            throw DriverError(.internal, "database work on `\(name)` failed: \(type(of: error))", retryable: true)
        }
    }
}

/// Shuts a socket down at a deadline unless disarmed first; the lock orders it before `PQfinish`.
private final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private let socket: Int32
    private var armed = true
    private var fired = false

    init(socket: Int32, at deadline: ContinuousClock.Instant) {
        self.socket = socket
        let delay = max((deadline - ContinuousClock.now).seconds, 0)
        DispatchQueue.global().asyncAfter(deadline: .now() + delay) { [self] in fire() }
    }

    private func fire() {
        lock.lock()
        defer { lock.unlock() }
        guard armed, socket >= 0 else { return }
        fired = true
        shutdown(socket, Int32(SHUT_RDWR))
    }

    /// Stops the watchdog; true if it had already fired.
    func disarm() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        armed = false
        return fired
    }
}
