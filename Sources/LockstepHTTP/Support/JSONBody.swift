import Foundation
import Hummingbird
import LockstepCore
import NIOCore

/// JSON in and out: request bodies checked for content type, size and syntax with a problem naming
/// the cause; responses encoded with sorted keys and scrubbed of every configured secret.
struct JSONIO: Sendable {
    /// Strings that must never leave the server (connection passwords), longest first so a secret that
    /// contains another is masked whole.
    let secrets: [String]

    init(secrets: [String]) {
        self.secrets = Array(Set(secrets.filter { $0.count >= 3 })).sorted { $0.count > $1.count }
    }

    func response(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: scrub(value.canonicalJSON()))))
    }

    /// Masks any configured secret that reached a response by a path nobody foresaw (an operator's
    /// error message quoting a URI, a task output): defence in depth behind `Redacted.uri`.
    func scrub(_ text: String) -> String {
        var out = text
        for secret in secrets where out.contains(secret) {
            out = out.replacingOccurrences(of: secret, with: "***")
        }
        return out
    }

    /// The request body as a JSON object, or a problem: 415 for a non-JSON content type, 413 beyond the
    /// body limit, 400 for malformed JSON or a body that is not an object. An empty body is `{}`.
    func object(_ request: Request, context: APIRequestContext) async throws -> [String: JSONValue] {
        var request = request
        let contentType = request.headers[.contentType] ?? ""
        let length = request.headers[.contentLength].flatMap(Int.init)
        if let length, length > context.maxUploadSize { throw Self.tooLarge(context.maxUploadSize) }
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: context.maxUploadSize) } catch is NIOTooManyBytesError {
            throw Self.tooLarge(context.maxUploadSize)
        }
        if buffer.readableBytes == 0 { return [:] }
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) else {
            throw Problem(
                .unsupportedMediaType, "unsupported-media-type", title: "Unsupported media type",
                detail: "the body must be JSON: send `Content-Type: application/json` (got `\(contentType.isEmpty ? "none" : contentType)`)",
                field: "Content-Type")
        }
        let value: JSONValue
        do { value = try JSONValue.parse(utf8: Array(buffer.readableBytesView)) } catch {
            throw Problem.badRequest("malformed-json", "the body is not valid JSON: \(error)", field: "body")
        }
        guard let object = value.objectValue else {
            throw Problem.badRequest("malformed-json", "the body must be a JSON object, e.g. {\"conf\": {}}", field: "body")
        }
        return object
    }

    static func tooLarge(_ limit: Int) -> Problem {
        Problem(.contentTooLarge, "body-too-large", title: "Body too large",
                detail: "the body is larger than the limit of \(limit) bytes; send less", field: "body")
    }
}

/// Typed reading of a request object's members, each failure naming the member.
struct Members {
    let object: [String: JSONValue]
    let allowed: Set<String>

    /// Refuses unknown members, so a misspelt `is_pasued` is an error rather than a silent no-op.
    init(_ object: [String: JSONValue], allowed: Set<String>) throws {
        self.object = object
        self.allowed = allowed
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw Problem.badRequest("unknown-member", "unknown member `\(unknown)`; allowed: \(allowed.sorted().joined(separator: ", "))", field: unknown)
        }
    }

    func string(_ name: String, required: Bool = false) throws -> String? {
        guard let value = object[name], value != .null else {
            if required { throw Problem.badRequest("missing-member", "`\(name)` is required", field: name) }
            return nil
        }
        guard let s = value.stringValue else { throw Problem.badRequest("invalid-member", "`\(name)` must be a string", field: name) }
        return s
    }

    func bool(_ name: String, required: Bool = false) throws -> Bool? {
        guard let value = object[name], value != .null else {
            if required { throw Problem.badRequest("missing-member", "`\(name)` is required (true or false)", field: name) }
            return nil
        }
        guard let b = value.boolValue else { throw Problem.badRequest("invalid-member", "`\(name)` must be true or false", field: name) }
        return b
    }

    func date(_ name: String, required: Bool = false) throws -> Date? {
        guard let text = try string(name, required: required) else { return nil }
        guard let date = ISO8601.parse(text) else {
            throw Problem.badRequest("invalid-member", "`\(name)` must be an RFC 3339 time such as 2025-09-18T02:00:00Z", field: name)
        }
        return date
    }

    func object(_ name: String) throws -> JSONValue? {
        guard let value = object[name], value != .null else { return nil }
        guard value.objectValue != nil else { throw Problem.badRequest("invalid-member", "`\(name)` must be a JSON object", field: name) }
        return value
    }

    func int(_ name: String) throws -> Int64? {
        guard let value = object[name], value != .null else { return nil }
        guard let i = value.intValue else { throw Problem.badRequest("invalid-member", "`\(name)` must be an integer", field: name) }
        return i
    }
}
