import Foundation
import Hummingbird
import NIOCore

/// A submitted HTML form (`application/x-www-form-urlencoded`), read within the API's body limit.
/// Fields keep their order and repeats (a form may send a name twice).
struct UIForm: Sendable {
    private(set) var fields: [(name: String, value: String)]

    init(fields: [(name: String, value: String)]) { self.fields = fields }

    /// The body of a form post; an empty form for any other content type, so a handler's own checks
    /// name the missing field instead of a media-type error nobody reads in a browser.
    static func read(_ request: Request, context: APIRequestContext) async throws -> UIForm {
        var request = request
        if let length = request.headers[.contentLength].flatMap(Int.init), length > context.maxUploadSize {
            throw JSONIO.tooLarge(context.maxUploadSize)
        }
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: context.maxUploadSize) } catch is NIOTooManyBytesError {
            throw JSONIO.tooLarge(context.maxUploadSize)
        }
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard type == "application/x-www-form-urlencoded" else { return UIForm(fields: []) }
        return parse(String(decoding: buffer.readableBytesView, as: UTF8.self))
    }

    /// `a=1&b=x+y&c=%3C`: `+` is a space, `%XX` a byte of UTF-8.
    static func parse(_ body: String) -> UIForm {
        var fields: [(String, String)] = []
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0])
            let value = parts.count > 1 ? decode(parts[1]) : ""
            fields.append((name, value))
        }
        return UIForm(fields: fields)
    }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// The last value sent under `name`, nil if none was.
    subscript(name: String) -> String? { fields.last { $0.name == name }?.value }

    /// The value, trimmed; nil when absent or blank.
    func text(_ name: String) -> String? {
        guard let value = self[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }
}
