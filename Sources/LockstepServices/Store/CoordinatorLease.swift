import Foundation
import LockstepDrivers
#if canImport(Glibc)
import Glibc
#endif

/// The right to be the active coordinator. With SQLite state it is an exclusive `flock` on a file
/// beside the database; with PostgreSQL, a session advisory lock. Either is released by the kernel or
/// the server when the holder dies, so a standby waiting for it takes over.
final class CoordinatorLease: @unchecked Sendable {
    // @unchecked: `release` is called once, from the coordinator's task.
    private var fd: Int32 = -1
    private var postgres: PostgresDatabase?

    /// Waits (on a thread of its own) until the lease is ours.
    static func acquire(_ location: StoreLocation) async throws -> CoordinatorLease {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do { continuation.resume(returning: try CoordinatorLease(location)) } catch { continuation.resume(throwing: error) }
            }
            thread.name = "lockstep-lease"
            thread.start()
        }
    }

    private init(_ location: StoreLocation) throws {
        switch location {
        case .sqlite(let path):
            let lockPath = path + ".coordinator.lock"
            fd = open(lockPath, O_CREAT | O_RDWR, 0o644)
            guard fd >= 0 else { throw LeaseError("cannot open \(lockPath): errno \(errno)") }
            guard flock(fd, LOCK_EX) == 0 else { throw LeaseError("cannot lock \(lockPath): errno \(errno)") }
        case .postgres(let uri):
            let db = try PostgresDatabase(uri: uri)
            // Blocks until the previous holder's session ends.
            try db.query("SELECT pg_advisory_lock(7283501)", [])
            postgres = db
        }
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

struct LeaseError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
