/// What a user may do, with the meanings of Airflow's simple auth manager: each role may do all that
/// the roles below it may.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    /// Reads DAGs, runs, their events and logs, pools and statistics.
    case viewer
    /// Also triggers, cancels and pauses.
    case user
    /// Also reads variables, connections, dead letters and the audit trail; replays, backfills, redrives.
    case op
    /// Also manages users.
    case admin

    private var rank: Int {
        switch self {
        case .viewer: 0
        case .user: 1
        case .op: 2
        case .admin: 3
        }
    }

    public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
    public var description: String { rawValue }

    /// Parses a role name, or says which names exist.
    public static func parse(_ text: String) throws(UserDirectoryError) -> Role {
        guard let role = Role(rawValue: text.lowercased()) else {
            throw UserDirectoryError("unknown role `\(text)`; use one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return role
    }
}

/// Who made a request, and how they proved it.
public struct Caller: Sendable, Hashable {
    public enum Credential: Sendable, Hashable {
        case bearer
        /// A browser session; writes also need the session's CSRF token.
        case session(id: String, csrfToken: String)
    }
    public var username: String
    public var role: Role
    public var credential: Credential
}
