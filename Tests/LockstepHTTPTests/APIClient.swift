import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// One HTTP exchange as a client saw it.
struct Exchange: Sendable {
    var method: String
    var path: String
    var status: Int
    var headers: [String: String]
    var body: Data

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: Any? { try? JSONSerialization.jsonObject(with: body) }
    var object: [String: Any] { (json as? [String: Any]) ?? [:] }
    var contentType: String { headers["content-type"] ?? "" }
    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A URLSession client over loopback that records every exchange (for the secret and schema checks)
/// and keeps cookies itself, as a browser would for one site.
final class APIClient: Sendable {
    let base: URL
    private let session: URLSession
    private let recorded = Mutex<[Exchange]>([])
    /// Sent with every request: `Authorization`, `Cookie`, `X-CSRF-Token`.
    let defaultHeaders = Mutex<[String: String]>([:])

    init(base: URL) {
        self.base = base
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 15
        configuration.timeoutIntervalForResource = 60
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.urlCache = nil
        session = URLSession(configuration: configuration)
    }

    var exchanges: [Exchange] { recorded.withLock { $0 } }

    @discardableResult
    func send(_ method: String, _ path: String, json: Any? = nil, body: Data? = nil, headers: [String: String] = [:]) async throws -> Exchange {
        var request = URLRequest(url: URL(string: path, relativeTo: base)!)
        request.httpMethod = method
        for (name, value) in defaultHeaders.withLock({ $0 }) { request.setValue(value, forHTTPHeaderField: name) }
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let body { request.httpBody = body }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields { fields[String(describing: name).lowercased()] = String(describing: value) }
        let exchange = Exchange(method: method, path: path, status: http.statusCode, headers: fields, body: data)
        recorded.withLock { $0.append(exchange) }
        return exchange
    }

    func get(_ path: String) async throws -> Exchange { try await send("GET", path) }

    /// Logs in for a bearer token and sends it from now on.
    func logIn(_ username: String, _ password: String) async throws {
        let answer = try await send("POST", "/api/v1/auth/token", json: ["username": username, "password": password])
        guard answer.status == 201, let token = answer.object["access_token"] as? String else {
            throw TestFailure("login of \(username) failed: \(answer.status) \(answer.text)")
        }
        defaultHeaders.withLock { $0 = ["Authorization": "Bearer \(token)"] }
    }

    /// Logs in for a session cookie; returns the CSRF token (not sent unless the test adds it).
    func startSession(_ username: String, _ password: String) async throws -> String {
        let answer = try await send("POST", "/api/v1/auth/session", json: ["username": username, "password": password])
        guard answer.status == 201, let csrf = answer.object["csrf_token"] as? String,
            let cookie = answer.header("set-cookie"), let pair = cookie.split(separator: ";").first
        else { throw TestFailure("session login of \(username) failed: \(answer.status) \(answer.text)") }
        defaultHeaders.withLock { $0 = ["Cookie": String(pair)] }
        return csrf
    }
}
