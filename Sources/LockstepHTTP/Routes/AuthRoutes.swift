import Foundation
import Hummingbird
import LockstepCore

/// Logging in: a bearer token for programs, a session cookie (with its CSRF token) for browsers.
/// Failed attempts per user name and client address are slowed down, in the store so every API
/// process counts the same failures.
struct AuthRoutes {
    let env: APIEnvironment
    let signer: TokenSigner

    func register(_ routes: RouteTable) {
        routes.addPublic(.post, "/api/v1/auth/token") { request, context in
            let user = try await login(request, context)
            let (token, expires) = signer.issue(username: user.username, now: env.clock(), lifetime: env.configuration.tokenLifetime)
            return env.json.response([
                "access_token": .string(token), "token_type": "Bearer", "expires_at": .string(ISO8601.format(expires)),
                "username": .string(user.username), "role": .string(user.role.rawValue),
            ], status: .created)
        }
        routes.addPublic(.post, "/api/v1/auth/session") { request, context in
            let user = try await login(request, context)
            let (id, session) = try await env.users.startSession(username: user.username, now: env.clock(), lifetime: env.configuration.sessionLifetime)
            var response = env.json.response(sessionJSON(user.username, user.role, session.csrfToken, session.expiresAt), status: .created)
            response.setCookie(Cookie(
                name: Authenticator.sessionCookie, value: id, maxAge: Int(env.configuration.sessionLifetime), path: "/",
                secure: env.configuration.secureCookies, httpOnly: true, sameSite: .strict))
            return response
        }
        routes.add(.get, "/api/v1/auth/session", role: .viewer, action: "reading the session") { _, _, caller in
            var csrf: String?
            var expires: Date?
            if case .session(let id, let token) = caller.credential {
                csrf = token
                expires = try await env.users.session(id, now: env.clock())?.expiresAt
            }
            return env.json.response(sessionJSON(caller.username, caller.role, csrf, expires))
        }
        routes.add(.delete, "/api/v1/auth/session", role: .viewer, action: "logging out") { _, _, caller in
            if case .session(let id, _) = caller.credential { try await env.users.endSession(id) }
            var response = Response(status: .noContent)
            response.setCookie(Cookie(name: Authenticator.sessionCookie, value: "", maxAge: 0, path: "/",
                                      secure: env.configuration.secureCookies, httpOnly: true, sameSite: .strict))
            return response
        }
    }

    private func sessionJSON(_ username: String, _ role: Role, _ csrf: String?, _ expires: Date?) -> JSONValue {
        var o = JSONFields()
        o.set("username", username)
        o.set("role", role.rawValue)
        o.set("csrf_token", csrf)
        o.set("expires_at", expires)
        return o.json
    }

    /// The user whose name and password the body holds, or 401; 429 while this name and address are
    /// throttled after repeated failures.
    private func login(_ request: Request, _ context: APIRequestContext) async throws -> UserDirectory.User {
        let members = try Members(try await env.json.object(request, context: context), allowed: ["username", "password"])
        let username = try members.string("username", required: true)!
        let password = try members.string("password", required: true)!
        let key = "\(username.lowercased())|\(context.remoteAddress)"
        let now = env.clock()
        if let until = try await env.users.blockedUntil(key), until > now {
            var problem = Problem(.tooManyRequests, "login-throttled", title: "Too many failed logins",
                                  detail: "too many failed logins for `\(username)` from this address; try again after \(ISO8601.format(until))",
                                  field: "username")
            problem.retryAfter = max(1, Int(until.timeIntervalSince(now).rounded(.up)))
            throw problem
        }
        let hash = try await env.users.passwordHash(username)
        guard try await Passwords.verify(password, hash: hash), let user = try await env.users.user(username) else {
            try await env.users.recordFailure(key, now: env.clock())
            env.logger.notice("failed login", metadata: ["user": .string(username), "address": .string(context.remoteAddress)])
            throw Problem.unauthenticated("wrong user name or password", field: "password")
        }
        try await env.users.clearFailures(key)
        return user
    }
}
