import Foundation
import LockstepCore

/// The `http` operator's params, checked: the request to send and what counts as its success.
struct HTTPRequestSpec: Sendable {
    var method: String
    var url: URL
    /// Header name → value as given (rendered); values may hold secrets.
    var headers: [String: String]
    var body: Data?
    var expected: [ClosedRange<Int>]
    /// Output field → pointer into the response JSON.
    var select: [(name: String, pointer: JSONPointer)]
    var timeout: Duration
    var responseLimit: Int

    static let defaultResponseLimit = 1 << 20
    /// Headers whose values are ordinary words, not credentials, and so are not masked.
    static let plainHeaders: Set<String> = ["content-type", "accept", "accept-encoding", "accept-language", "user-agent",
                                            "cache-control", "content-language", "idempotency-key", "traceparent", "tracestate"]

    init(_ params: Params) throws(OperatorError) {
        let origin = params.origin
        method = (try params.string("method") ?? "GET").uppercased()
        guard !method.isEmpty, method.allSatisfy({ $0.isASCII && ($0.isLetter || $0 == "-") }) else {
            throw .config("task \(origin): param `method` is `\(method)`; use GET, POST, PUT, PATCH, DELETE, …")
        }
        url = try params.url("url")

        var headers: [String: String] = [:]
        for (name, value) in try params.object("headers") ?? [:] {
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "!#$%&'*+-.^_`|~".contains($0)) }) else {
                throw .config("task \(origin): header name `\(name)` is not a valid HTTP header name")
            }
            let text = value.stringValue ?? value.canonicalJSON()
            // A line break in a value would start a header (or a body) of the value's choosing.
            guard !text.contains("\r"), !text.contains("\n"), !text.contains("\0") else {
                throw .config("task \(origin): the value of header `\(name)` holds a line break; header values are one line")
            }
            headers[name] = text
        }
        self.headers = headers

        if let body = params["body"], body != .null {
            self.body = Data(body.canonicalJSON().utf8)
            if !headers.keys.contains(where: { $0.lowercased() == "content-type" }) {
                self.headers["Content-Type"] = "application/json"
            }
        } else {
            body = nil
        }
        if !headers.keys.contains(where: { $0.lowercased() == "accept" }) { self.headers["Accept"] = "application/json" }

        expected = try Self.statusRanges(params["expect_status"], origin: origin)
        var select: [(String, JSONPointer)] = []
        for (name, value) in (try params.object("select") ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard name != "status" else { throw .config("task \(origin): `select` may not define `status`; the output has it already") }
            guard let text = value.stringValue, let pointer = JSONPointer(text) else {
                throw .config("task \(origin): `select.\(name)` must be a JSON Pointer such as /data/id (RFC 6901), not "
                    + "`\(value.stringValue ?? value.canonicalJSON())`")
            }
            select.append((name, pointer))
        }
        self.select = select
        timeout = try params.seconds("timeout", default: 30)
        responseLimit = try CommandSpec.bytes(params["response_limit"], default: Self.defaultResponseLimit,
                                              param: "response_limit", origin: origin)
    }

    /// Whether the request may be repeated without effect: those carry no Idempotency-Key.
    var isSafe: Bool { method == "GET" || method == "HEAD" || method == "OPTIONS" }

    func accepts(_ status: Int) -> Bool { expected.contains { $0.contains(status) } }

    var expectedText: String {
        expected.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ", ")
    }

    /// What the server might echo of the request's credentials: every header value but the plain ones,
    /// and the credential after an auth scheme (`Bearer <token>`).
    var headerSecrets: SecretMask {
        var mask = SecretMask()
        for (name, value) in headers where !Self.plainHeaders.contains(name.lowercased()) && value.count >= 4 {
            mask.add(value)
            if let space = value.firstIndex(of: " ") {
                let credential = value[value.index(after: space)...].trimmingCharacters(in: .whitespaces)
                if credential.count >= 4 { mask.add(credential) }
            }
        }
        return mask
    }

    /// `expect_status`: a code, a range `"200-299"`, or a list of them; default 200-299.
    static func statusRanges(_ value: JSONValue?, origin: String) throws(OperatorError) -> [ClosedRange<Int>] {
        guard let value, value != .null else { return [200...299] }
        let items = value.arrayValue ?? [value]
        var ranges: [ClosedRange<Int>] = []
        for item in items {
            let text = item.intValue.map(String.init) ?? item.stringValue ?? ""
            let bounds = text.split(separator: "-", maxSplits: 1).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !bounds.isEmpty, bounds.allSatisfy({ $0 != nil && (100...599).contains($0!) }),
                  let low = bounds.first!, let high = bounds.last!, low <= high
            else {
                throw .config("task \(origin): `expect_status` holds `\(item.canonicalJSON())`; give codes (201) or ranges (\"200-299\") within 100-599")
            }
            ranges.append(low...high)
        }
        guard !ranges.isEmpty else { throw .config("task \(origin): `expect_status` lists no status") }
        return ranges
    }
}
