import Foundation
import LockstepServices

/// Adding users outside the API: the first admin at first start, and `lockstep users add`.
public enum UserAdministration {
    /// Creates `admin` when there are no users. Its password is LOCKSTEP_ADMIN_PASSWORD if set, else
    /// generated and returned (for the caller to print once); nil when nothing was created or the
    /// password came from the environment.
    public static func ensureFirstAdmin(_ users: UserDirectory, environment: [String: String], now: Date) async throws -> (created: Bool, generated: String?) {
        guard try await users.isEmpty else { return (false, nil) }
        let given = environment["LOCKSTEP_ADMIN_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        if let given, given.count < 12 || given == "admin" {
            throw UserDirectoryError("LOCKSTEP_ADMIN_PASSWORD must have at least 12 characters; unset it to get a generated password")
        }
        let password = given ?? Passwords.generate()
        let created = try await users.createFirstAdmin(passwordHash: try await Passwords.hash(password), now: now)
        return (created, created && given == nil ? password : nil)
    }

    /// Adds a user with a generated password, recorded on the ops topic; returns the password.
    public static func add(_ username: String, role: Role, users: UserDirectory, ops: OpsActions) async throws -> String {
        try UserDirectory.checkName(username)
        let password = Passwords.generate()
        try await users.add(username, role: role, passwordHash: try await Passwords.hash(password), now: ops.runtime.clock.now)
        try await ops.runtime.createTopics()
        try await ops.audit("user_added", target: username, details: ["role": .string(role.rawValue)])
        return password
    }
}
