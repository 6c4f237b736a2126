import Foundation
import LockstepDrivers
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The right to be the active coordinator. With SQLite state it is an exclusive `flock` on a file
/// beside the database; with PostgreSQL, a session advisory lock. Either is released by the kernel or
/// the server when the holder dies, so a standby waiting for it takes over.
///
/// A PostgreSQL restart ends the session, and with it the lease, without the holder noticing (its
/// connection is idle). The holder learns it from the store (`StateStoreError.leaseMayBeLost`) and
/// then releases this lease and acquires a new one: `acquire` fails with a retryable error while the
/// database is unreachable, for the caller to try again.
final class CoordinatorLease: @unchecked Sendable {
    // @unchecked: the lock is taken on the lease's own thread before the lease is handed out, and
    // `release` is called once, from the coordinator's task.
    private var fd: Int32 = -1
    private var postgres: PostgresDatabase?

    /// The advisory lock key every coordinator of one PostgreSQL database contends for.
    static let advisoryLockKey: Int64 = 7_283_501

    /// Waits (on a thread of its own: both locks block) until the lease is ours. `whileWaiting` is
    /// called once if another holder has it, before waiting for it to let go.
    static func acquire(
        _ location: StoreLocation, logger: Logger = Logger(label: "lockstep.lease"), whileWaiting: @escaping @Sendable () -> Void = {}
    ) async throws -> CoordinatorLease {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do { continuation.resume(returning: try CoordinatorLease(location, logger: logger, whileWaiting: whileWaiting)) } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.name = "lockstep-lease"
            thread.start()
        }
    }

    private init(_ location: StoreLocation, logger: Logger, whileWaiting: () -> Void) throws {
        switch location {
        case .sqlite(let path):
            let lockPath = path + ".coordinator.lock"
            fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw LeaseError(location, "cannot open \(lockPath): \(String(cString: strerror(errno)))") }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                guard errno == EWOULDBLOCK else { throw lockFailed(lockPath, location) }
                whileWaiting()
                guard flock(fd, LOCK_EX) == 0 else { throw lockFailed(lockPath, location) }
            }
        case .postgres(let uri):
            let db = try PostgresDatabase(
                uri: uri, name: "coordinator lease", health: StoreHealthMonitor(store: "\(location) (coordinator lease)", logger: logger))
            do {
                let taken = try db.query("SELECT pg_try_advisory_lock(\(Self.advisoryLockKey))", []).first?.first
                if taken != "t" {
                    whileWaiting()
                    // Blocks until the previous holder's session ends.
                    try db.query("SELECT pg_advisory_lock(\(Self.advisoryLockKey))", [])
                }
            } catch {
                db.close()
                throw error
            }
            postgres = db
        }
    }

    private func lockFailed(_ lockPath: String, _ location: StoreLocation) -> LeaseError {
        let error = LeaseError(location, "cannot lock \(lockPath): \(String(cString: strerror(errno)))")
        close(fd)
        fd = -1
        return error
    }

    func release() {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
        postgres?.close()
        postgres = nil
    }
}

/// The coordinator lease could not be taken for a reason other than another holder.
struct LeaseError: Error, CustomStringConvertible {
    var description: String
    /// `location` is shown redacted: a PostgreSQL URI may hold a password.
    init(_ location: StoreLocation, _ reason: String) {
        description = "coordinator lease on \(location): \(reason)"
    }
}
