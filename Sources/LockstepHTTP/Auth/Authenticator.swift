import Foundation
import HTTPTypes
import Hummingbird
import LockstepCore

/// Who a request comes from: a bearer token (programs) or a session cookie (browsers). A write by
/// cookie must also carry the session's CSRF token in `X-CSRF-Token` (double submit: another site
/// can make the browser send the cookie, but cannot read the token); a bearer token is never sent
/// by a browser on its own, so bearer writes need none.
struct Authenticator: Sendable {
    static let sessionCookie = "lockstep_session"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    let users: UserDirectory
    let signer: TokenSigner
    let clock: @Sendable () -> Date

    func caller(_ request: Request) async throws -> Caller {
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw Problem.unauthenticated("the Authorization header must be `Bearer <token>`; get a token from POST /api/v1/auth/token")
            }
            let username: String
            do { username = try signer.verify(String(parts[1]).trimmingCharacters(in: .whitespaces), now: clock()) } catch {
                throw Problem.unauthenticated(error.description)
            }
            guard let user = try await users.user(username) else {
                throw Problem.unauthenticated("the bearer token's user `\(username)` no longer exists")
            }
            return Caller(username: user.username, role: user.role, credential: .bearer)
        }
        if let id = request.cookies[Self.sessionCookie]?.value {
            guard let session = try await users.session(id, now: clock()) else {
                throw Problem.unauthenticated("the session has expired or was ended; log in again (POST /api/v1/auth/session)", field: "Cookie")
            }
            guard let user = try await users.user(session.username) else {
                throw Problem.unauthenticated("the session's user `\(session.username)` no longer exists", field: "Cookie")
            }
            return Caller(username: user.username, role: user.role, credential: .session(id: id, csrfToken: session.csrfToken))
        }
        throw Problem.unauthenticated(
            "no credentials: send `Authorization: Bearer <token>` (POST /api/v1/auth/token) or log in for a session cookie (POST /api/v1/auth/session)")
    }

    /// Refuses a cookie-authenticated write without the session's CSRF token.
    static func checkCSRF(_ caller: Caller, _ request: Request) throws {
        guard case .session(_, let expected) = caller.credential else { return }
        guard let sent = request.headers[csrfHeader] else {
            throw Problem.forbidden("csrf-token-missing",
                                    "a write with a session cookie needs the session's CSRF token in the X-CSRF-Token header (GET /api/v1/auth/session returns it)",
                                    field: "X-CSRF-Token")
        }
        guard constantTimeEqual(sent, expected) else {
            throw Problem.forbidden("csrf-token-mismatch", "the X-CSRF-Token header does not match this session's token", field: "X-CSRF-Token")
        }
    }

    static func require(_ role: Role, _ caller: Caller, action: String) throws {
        guard caller.role >= role else {
            throw Problem.forbidden(
                "role-required", "\(action) needs role `\(role)` or higher; `\(caller.username)` has `\(caller.role)`")
        }
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
