import Foundation
import Hummingbird
import LockstepCore

/// Users, for admins: list them, add one (the generated password is in the answer, once).
struct UserRoutes {
    let env: APIEnvironment

    func register(_ routes: RouteTable) {
        routes.add(.get, "/api/v1/users", role: .admin, action: "listing users") { request, _, _ in
            let page = try Page(request)
            let (items, next) = page.slice(try await env.users.users())
            return env.json.response([
                "users": .array(items.map { ["username": .string($0.username), "role": .string($0.role.rawValue), "created_at": .string(ISO8601.format($0.createdAt))] }),
                "next_cursor": next.map(JSONValue.string) ?? .null,
            ])
        }
        routes.add(.post, "/api/v1/users", role: .admin, action: "adding a user") { request, context, caller in
            let members = try Members(try await env.json.object(request, context: context), allowed: ["username", "role", "password"])
            let username = try members.string("username", required: true)!
            let roleName = try members.string("role", required: true)!
            let role: Role
            do { role = try Role.parse(roleName) } catch let error as UserDirectoryError {
                throw Problem.badRequest("invalid-member", error.description, field: "role")
            }
            let given = try members.string("password")
            if let given, given.count < 12 {
                throw Problem.badRequest("weak-password", "`password` must have at least 12 characters; omit it to get a generated one", field: "password")
            }
            let password = given ?? Passwords.generate()
            do {
                try UserDirectory.checkName(username)
                try await env.users.add(username, role: role, passwordHash: try await Passwords.hash(password), now: env.clock())
            } catch let error as UserDirectoryError {
                let exists = error.description.contains("exists")
                throw exists ? Problem.conflict("user-exists", error.description, field: "username")
                    : Problem.badRequest("invalid-member", error.description, field: "username")
            }
            try await env.ops(caller).audit("user_added", target: username, details: ["role": .string(role.rawValue)])
            var body: [String: JSONValue] = ["username": .string(username), "role": .string(role.rawValue)]
            if given == nil { body["password"] = .string(password) }
            return env.json.response(.object(body), status: .created)
        }
    }
}
