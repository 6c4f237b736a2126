import Crypto
import Foundation
import LockstepCore
import LockstepDrivers
import LockstepServices

/// Users, browser sessions, failed-login counts and the token key, in tables of their own in the
/// state store's database, so every API process sharing the store sees the same users and sessions.
///
/// The tables are the state store's migration 4 (`Migrations.users`), applied here if nothing has
/// migrated the database yet.
///
/// An actor on a thread of its own: SQLite waits for fsync and libpq blocks.
public actor UserDirectory {
    private let executor: DedicatedThreadExecutor
    private let db: any SQLDatabase
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public struct User: Sendable, Hashable {
        public var username: String
        public var role: Role
        public var createdAt: Date
    }

    public struct Session: Sendable, Hashable {
        public var username: String
        public var csrfToken: String
        public var expiresAt: Date
    }

    public init(_ location: StoreLocation) async throws {
        // The tables are the store's migration 4: a `lockstep users add` before any component has
        // started must find them too.
        try await StoreSchema.migrate(location)
        executor = DedicatedThreadExecutor(name: "lockstep-users")
        db = try APIDatabase.open(location)
    }

    public func close() {
        db.close()
        executor.stop()
    }

    // MARK: Users

    public func users() throws -> [User] {
        try db.query("SELECT username, role, created_at_ms FROM lockstep_users ORDER BY username", []).compactMap(Self.user)
    }

    public func user(_ username: String) throws -> User? {
        try db.query("SELECT username, role, created_at_ms FROM lockstep_users WHERE username = $1", .text(username)).first.flatMap(Self.user)
    }

    private static func user(_ row: [String?]) -> User? {
        guard let name = row[0], let role = row[1].flatMap(Role.init(rawValue:)) else { return nil }
        return User(username: name, role: role, createdAt: Date(timeIntervalSince1970: Double(Int64(row[2] ?? "") ?? 0) / 1000))
    }

    public func passwordHash(_ username: String) throws -> String? {
        try db.query("SELECT password_hash FROM lockstep_users WHERE username = $1", .text(username)).first?[0] ?? nil
    }

    /// Adds a user; refuses a name that exists, so a typo never resets someone's password.
    public func add(_ username: String, role: Role, passwordHash: String, now: Date) throws {
        try Self.checkName(username)
        let rows = try db.query(
            "INSERT INTO lockstep_users (username, role, password_hash, created_at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING RETURNING username",
            .text(username), .text(role.rawValue), .text(passwordHash), .int(Self.ms(now)))
        if rows.isEmpty { throw UserDirectoryError("user `\(username)` exists already; pick another name") }
    }

    /// Creates `admin` if there are no users at all; true if this call created it (of several
    /// processes starting together, exactly one does).
    public func createFirstAdmin(passwordHash: String, now: Date) throws -> Bool {
        guard try db.query("SELECT username FROM lockstep_users LIMIT 1", []).isEmpty else { return false }
        let rows = try db.query(
            "INSERT INTO lockstep_users (username, role, password_hash, created_at_ms) VALUES ('admin', 'admin', $1, $2) ON CONFLICT (username) DO NOTHING RETURNING username",
            .text(passwordHash), .int(Self.ms(now)))
        return !rows.isEmpty
    }

    public var isEmpty: Bool {
        get throws { try db.query("SELECT username FROM lockstep_users LIMIT 1", []).isEmpty }
    }

    static func checkName(_ username: String) throws(UserDirectoryError) {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._-@"))
        guard !username.isEmpty, username.count <= 64, username.unicodeScalars.allSatisfy(allowed.contains) else {
            throw UserDirectoryError("user name `\(username)` is not allowed; use 1-64 letters, digits, `.`, `_`, `-` or `@`")
        }
    }

    // MARK: Sessions

    /// Starts a session; returns its id (for the cookie) and CSRF token.
    public func startSession(username: String, now: Date, lifetime: TimeInterval) throws -> (id: String, session: Session) {
        let id = Base64URL.random()
        let session = Session(username: username, csrfToken: Base64URL.random(), expiresAt: now.addingTimeInterval(lifetime))
        try db.query("DELETE FROM lockstep_sessions WHERE expires_at_ms < $1", .int(Self.ms(now)))
        try db.query(
            "INSERT INTO lockstep_sessions (id_hash, username, csrf_token, expires_at_ms) VALUES ($1, $2, $3, $4)",
            .text(Self.hash(id)), .text(username), .text(session.csrfToken), .int(Self.ms(session.expiresAt)))
        return (id, session)
    }

    public func session(_ id: String, now: Date) throws -> Session? {
        guard let row = try db.query(
            "SELECT username, csrf_token, expires_at_ms FROM lockstep_sessions WHERE id_hash = $1 AND expires_at_ms > $2",
            .text(Self.hash(id)), .int(Self.ms(now))).first, let username = row[0], let csrf = row[1]
        else { return nil }
        return Session(username: username, csrfToken: csrf, expiresAt: Date(timeIntervalSince1970: Double(Int64(row[2] ?? "") ?? 0) / 1000))
    }

    public func endSession(_ id: String) throws {
        try db.query("DELETE FROM lockstep_sessions WHERE id_hash = $1", .text(Self.hash(id)))
    }

    // MARK: Failed logins

    /// Until when logins for this key are refused without looking at the password.
    public func blockedUntil(_ key: String) throws -> Date? {
        guard let value = try db.query("SELECT blocked_until_ms FROM lockstep_login_failures WHERE throttle_key = $1", .text(key)).first?[0] ?? nil,
            let ms = Int64(value)
        else { return nil }
        return Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    /// Counts a failure; from the third on, the next attempt waits 2^(n-3) s, up to 15 minutes.
    @discardableResult
    public func recordFailure(_ key: String, now: Date) throws -> Date {
        let failures = (Int64(try db.query("SELECT failures FROM lockstep_login_failures WHERE throttle_key = $1", .text(key)).first?[0] ?? "") ?? 0) + 1
        let delay = failures < 3 ? 0 : min(900, pow(2, Double(failures - 3)))
        let until = now.addingTimeInterval(delay)
        try db.query(
            "INSERT INTO lockstep_login_failures (throttle_key, failures, blocked_until_ms) VALUES ($1, $2, $3) ON CONFLICT (throttle_key) DO UPDATE SET failures = excluded.failures, blocked_until_ms = excluded.blocked_until_ms",
            .text(key), .int(failures), .int(Self.ms(until)))
        return until
    }

    public func clearFailures(_ key: String) throws {
        try db.query("DELETE FROM lockstep_login_failures WHERE throttle_key = $1", .text(key))
    }

    // MARK: Token key

    /// The deployment's token-signing key: made once, by whichever process asks first.
    public func signingKey() throws -> Data {
        try db.query("INSERT INTO lockstep_api_keys (name, value) VALUES ('token_hmac_sha256', $1) ON CONFLICT (name) DO NOTHING",
                     .text(Base64URL.random()))
        guard let text = try db.query("SELECT value FROM lockstep_api_keys WHERE name = 'token_hmac_sha256'", []).first?[0] ?? nil,
            let data = Base64URL.decode(text), data.count >= 32
        else { throw UserDirectoryError("the token key in lockstep_api_keys is unreadable; delete the row and restart to make a new one") }
        return data
    }

    /// A cheap round trip, for the health check.
    public func ping() throws { try db.query("SELECT 1", []) }

    private static func ms(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    private static func hash(_ id: String) -> String {
        SHA256.hash(data: Data(id.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
