import Foundation
import Hummingbird
import LockstepCore

/// An RFC 7807 problem detail: what went wrong, in words a client can act on, and which field or
/// parameter caused it. Thrown from any handler; Hummingbird turns it into an
/// `application/problem+json` response.
public struct Problem: HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// A short slug (`unknown-dag`); the `type` member is `urn:lockstep:problem:<slug>`.
    public var kind: String
    public var title: String
    public var detail: String
    /// The request member, path or query parameter or header at fault, if one is.
    public var field: String?
    /// What a 401 asks for (`Bearer`, or a session cookie): sent as `WWW-Authenticate`.
    var challenge: String?
    /// Seconds a throttled client should wait: sent as `Retry-After`.
    var retryAfter: Int?
    var extra: [String: JSONValue] = [:]

    public init(_ status: HTTPResponse.Status, _ kind: String, title: String, detail: String, field: String? = nil) {
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.field = field
    }

    public var description: String { "\(status.code) \(kind): \(detail)" }

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "type": .string("urn:lockstep:problem:\(kind)"), "title": .string(title), "status": .int(Int64(status.code)),
            "detail": .string(detail),
        ]
        if let field { o["field"] = .string(field) }
        for (k, v) in extra { o[k] = v }
        return .object(o)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        headers[.cacheControl] = "no-store"
        if let challenge { headers[.wwwAuthenticate] = challenge }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let body = ByteBuffer(string: json.canonicalJSON())
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }
}

extension Problem {
    static func badRequest(_ kind: String, _ detail: String, field: String? = nil) -> Problem {
        Problem(.badRequest, kind, title: "Bad request", detail: detail, field: field)
    }

    static func notFound(_ kind: String, _ detail: String, field: String? = nil) -> Problem {
        Problem(.notFound, kind, title: "Not found", detail: detail, field: field)
    }

    /// 401: no credentials, or ones that do not hold (expired, tampered, unknown user).
    static func unauthenticated(_ detail: String, field: String? = "Authorization") -> Problem {
        var p = Problem(.unauthorized, "unauthenticated", title: "Authentication required", detail: detail, field: field)
        p.challenge = "Bearer realm=\"lockstep\""
        return p
    }

    /// 403: known caller, not allowed.
    static func forbidden(_ kind: String, _ detail: String, field: String? = nil) -> Problem {
        Problem(.forbidden, kind, title: "Forbidden", detail: detail, field: field)
    }

    static func unprocessable(_ kind: String, _ detail: String, field: String? = nil) -> Problem {
        Problem(.unprocessableContent, kind, title: "Unprocessable request", detail: detail, field: field)
    }

    static func conflict(_ kind: String, _ detail: String, field: String? = nil) -> Problem {
        Problem(.conflict, kind, title: "Conflict", detail: detail, field: field)
    }
}
