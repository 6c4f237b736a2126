import Foundation
import HTTPTypes
import Hummingbird

/// One request to a UI page as a page sees it: who asks (and so what they may be offered), their
/// session's CSRF token for the forms the page renders, the query, and the form they posted.
struct UIRequest: Sendable {
    let request: Request
    let context: APIRequestContext
    let caller: Caller
    /// The posted form (empty for GET).
    let form: UIForm
    /// The query string as a GET form sends it (`+` for spaces, which `URI.queryParameters` keeps).
    let queryForm: UIForm

    init(request: Request, context: APIRequestContext, caller: Caller, form: UIForm) {
        self.request = request
        self.context = context
        self.caller = caller
        self.form = form
        queryForm = UIForm.parse(request.uri.query ?? "")
    }

    /// What the page's forms and scripts send back (empty for a bearer caller, who needs none).
    var csrfToken: String {
        if case .session(_, let token) = caller.credential { return token }
        return ""
    }

    /// Asked by the page script for one live region, not the whole page.
    var isFragment: Bool { request.headers[.fragmentRequest] != nil }

    /// The path and query, to come back to after logging in again.
    var here: String { request.uri.description }

    func may(_ role: Role) -> Bool { caller.role >= role }

    /// A query parameter, trimmed; nil when absent or blank.
    func query(_ name: String) -> String? { queryForm.text(name) }

    func path(_ name: String) throws -> String { try context.path(name) }

    /// The hidden field every form posts, checked against the session.
    var csrfField: HTML { "<input type=\"hidden\" name=\"csrf_token\" value=\"\(csrfToken)\">" }
}
