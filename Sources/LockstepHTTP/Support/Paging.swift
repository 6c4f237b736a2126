import Foundation
import Hummingbird
import LockstepCore

/// `limit` and an opaque `cursor`: the cursor is a position the server chose (a run sequence or an
/// offset into a list), base64url-encoded so clients pass it back rather than build it.
struct Page {
    static let defaultLimit = 100
    static let maxLimit = 1000

    var limit: Int
    /// What the cursor held: a position to continue after.
    var position: Int64?

    init(_ request: Request, defaultLimit: Int = Page.defaultLimit) throws {
        let query = request.uri.queryParameters
        if let text = query["limit"] {
            guard let n = Int(text), (1...Self.maxLimit).contains(n) else {
                throw Problem.badRequest("invalid-parameter", "`limit` must be a whole number from 1 to \(Self.maxLimit), not `\(text)`", field: "limit")
            }
            limit = n
        } else {
            limit = defaultLimit
        }
        if let text = query["cursor"], !text.isEmpty {
            guard let data = Base64URL.decode(String(text)), let decoded = String(data: data, encoding: .utf8),
                decoded.hasPrefix("c1:"), let value = Int64(decoded.dropFirst(3))
            else {
                throw Problem.badRequest("invalid-cursor", "`cursor` is not one this server gave out; pass the `next_cursor` of the previous page", field: "cursor")
            }
            position = value
        }
    }

    static func cursor(_ position: Int64) -> String { Base64URL.encode(Data("c1:\(position)".utf8)) }

    /// A slice of an in-memory list, offset-paged.
    func slice<T>(_ items: [T]) -> (items: ArraySlice<T>, next: String?) {
        let start = Int(max(0, min(Int64(items.count), position ?? 0)))
        let end = min(items.count, start + limit)
        return (items[start..<end], end < items.count ? Self.cursor(Int64(end)) : nil)
    }
}

extension Request {
    /// A query parameter, nil when absent or empty.
    func query(_ name: String) -> String? {
        uri.queryParameters[Substring(name)].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
    }

    func queryDate(_ name: String) throws -> Date? {
        guard let text = query(name) else { return nil }
        guard let date = ISO8601.parse(text) else {
            throw Problem.badRequest("invalid-parameter", "`\(name)` must be an RFC 3339 time such as 2025-09-18T02:00:00Z, not `\(text)`", field: name)
        }
        return date
    }

    func queryBool(_ name: String) throws -> Bool? {
        guard let text = query(name) else { return nil }
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw Problem.badRequest("invalid-parameter", "`\(name)` must be true or false, not `\(text)`", field: name)
        }
    }
}
