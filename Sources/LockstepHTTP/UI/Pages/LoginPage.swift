import Foundation
import Hummingbird
import LockstepCore

/// The login form: posts user name and password (no script needed), and on success sets the same
/// HttpOnly, SameSite=Strict session cookie as `POST /api/v1/auth/session`, then goes where the
/// user was headed. Failed attempts count towards the same throttle as the API's (per user name and
/// client address, in the store), so the form is no way around it.
struct LoginPage: Sendable {
    let env: APIEnvironment
    let authenticator: Authenticator

    func form(_ request: Request) async throws -> Response {
        let next = UILinks.safeNext(request.uri.queryParameters["next"].map(String.init))
        if (try? await authenticator.caller(request)) != nil { return UIResponse.redirect(next) }
        return page(next: next, username: "", error: nil, status: .ok)
    }

    func submit(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        do { try UIGuard.checkOrigin(request) } catch let problem as Problem {
            return ErrorPage.render(problem, caller: nil, env: env)
        }
        let form = try await UIForm.read(request, context: context)
        let next = UILinks.safeNext(form["next"])
        guard let username = form.text("username"), let password = form["password"], !password.isEmpty else {
            return page(next: next, username: form["username"] ?? "", error: "Enter your user name and password.", status: .badRequest)
        }
        let key = "\(username.lowercased())|\(context.remoteAddress)"
        let now = env.clock()
        if let until = try await env.users.blockedUntil(key), until > now {
            return page(next: next, username: username,
                        error: "Too many failed logins for this name from this address; try again after \(Layout.shortDate(until)) UTC.",
                        status: .tooManyRequests)
        }
        let hash = try await env.users.passwordHash(username)
        guard try await Passwords.verify(password, hash: hash), let user = try await env.users.user(username) else {
            try await env.users.recordFailure(key, now: env.clock())
            env.logger.notice("failed login", metadata: ["user": .string(username), "address": .string(context.remoteAddress), "via": "ui"])
            return page(next: next, username: username, error: "Wrong user name or password.", status: .unauthorized)
        }
        try await env.users.clearFailures(key)
        let (id, _) = try await env.users.startSession(username: user.username, now: env.clock(), lifetime: env.configuration.sessionLifetime)
        var response = UIResponse.redirect(next)
        response.setCookie(Cookie(
            name: Authenticator.sessionCookie, value: id, maxAge: Int(env.configuration.sessionLifetime), path: "/",
            secure: env.configuration.secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    func logout(_ ui: UIRequest) async throws -> Response {
        if case .session(let id, _) = ui.caller.credential { try await env.users.endSession(id) }
        var response = UIResponse.redirect(UILinks.login)
        response.setCookie(Cookie(name: Authenticator.sessionCookie, value: "", maxAge: 0, path: "/",
                                  secure: env.configuration.secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    private func page(next: String, username: String, error: String?, status: HTTPResponse.Status) -> Response {
        let body: HTML = """
            <div class="login">
            <h1>Log in to Lockstep</h1>
            \(error.map { e -> HTML in "<div class=\"notice error\" role=\"alert\" id=\"login-error\">\(e)</div>" })
            <form method="post" action="\(UILinks.login)">
            <input type="hidden" name="next" value="\(next)">
            <div class="field"><label for="username">User name</label>
            <input type="text" id="username" name="username" value="\(username)" autocomplete="username" required autofocus></div>
            <div class="field"><label for="password">Password</label>
            <input type="password" id="password" name="password" autocomplete="current-password" required></div>
            <div class="actions"><button type="submit" class="primary">Log in</button></div>
            </form>
            <p class="muted">The first start of <code>lockstep standalone</code> prints the admin password once; <code>lockstep users add NAME --role viewer|user|op|admin</code> adds users.</p>
            </div>
            """
        return UIResponse.html(Layout.page(nil, title: "Log in", section: .none, body: body), status: status, scrub: env.json)
    }
}
