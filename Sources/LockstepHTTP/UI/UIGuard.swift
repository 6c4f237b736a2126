import Foundation
import Hummingbird

/// The checks on a UI form post, before any handler runs.
///
/// CSRF: the form carries the session's token in a hidden `csrf_token` field (the script sends the
/// same token in `X-CSRF-Token` to the API); another site can make a browser send the cookie but
/// cannot read the token. Origin: a browser names the page a post comes from, and a post from another
/// origin is refused outright, which also covers the login form (no session, so no token yet).
enum UIGuard {
    static func checkCSRF(_ caller: Caller, _ form: UIForm) throws {
        guard case .session(_, let expected) = caller.credential else { return }
        guard let sent = form["csrf_token"], !sent.isEmpty else {
            throw Problem.forbidden("csrf-token-missing", "the form did not carry this session's CSRF token; reload the page and submit it again",
                                    field: "csrf_token")
        }
        guard constantTimeEqual(sent, expected) else {
            throw Problem.forbidden("csrf-token-mismatch",
                                    "the form's CSRF token is not this session's (it was opened before you logged in again); reload the page and submit it again",
                                    field: "csrf_token")
        }
    }

    /// Refuses a post whose `Origin` is another site's; a post without one (an old browser, curl) is
    /// left to the CSRF token.
    static func checkOrigin(_ request: Request) throws {
        guard let origin = request.headers[.origin], let host = request.head.authority else { return }
        let originHost = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
        guard originHost?.lowercased() == host.lowercased() else {
            throw Problem.forbidden("cross-origin-post", "a form on another site (\(origin)) may not post to Lockstep", field: "Origin")
        }
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
