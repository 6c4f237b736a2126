import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LockstepCore

/// A response read in full.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: Data

    public init(status: Int, body: Data) {
        self.status = status
        self.body = body
    }

    public var isSuccess: Bool { (200..<300).contains(status) }
    /// The body as JSON, or nil when it is not JSON.
    public var json: JSONValue? { try? JSONValue.parse(utf8: Array(body)) }
}

/// One-shot HTTP requests with a hard timeout, mapping every failure to a `DriverError`.
///
/// Each request gets its own session whose request AND resource timeouts are set: `URLSession.shared`
/// ignores a request's `timeoutInterval` against a server that accepts and never answers. TLS
/// certificates are verified (the session's default); nothing here turns that off.
public enum HTTPClient {
    public static func send(
        method: String, url: URL, headers: [String: String] = [:], body: Data? = nil, timeout: Duration
    ) async throws(DriverError) -> HTTPResponse {
        let shown = Redacted.uri(url.absoluteString)
        let seconds = max(timeout.seconds, 0.001)
        // The session's timeouts are whole seconds in practice (measured here: 0.999 s fired at once, as if
        // truncated to 0), so they are set rounded up as a backstop and a timer cancels at the exact deadline.
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = seconds.rounded(.up) + 1
        configuration.timeoutIntervalForResource = seconds.rounded(.up) + 1
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }

        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: seconds.rounded(.up) + 1)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let outcome = await Exchange.perform(request, in: session, timeout: seconds)
        switch outcome {
        case .response(let status, let data):
            return HTTPResponse(status: status, body: data)
        case .timedOut:
            throw DriverError(.timeout, "\(method) \(shown) got no response within \(format(seconds)) s", retryable: true)
        case .failed(let error as URLError):
            throw classify(error, method: method, shown: shown, timeout: seconds)
        case .failed(let error):
            throw DriverError(.unavailable, "\(method) \(shown) failed: \(type(of: error))", retryable: true)
        case .notHTTP:
            throw DriverError(.badResponse, "\(method) \(shown): not an HTTP response", retryable: true)
        }
    }

    /// The error for a non-2xx status: 5xx, 408 and 429 may pass; other 4xx mean the request is wrong.
    public static func statusError(_ response: HTTPResponse, method: String, url: URL) -> DriverError {
        let shown = Redacted.uri(url.absoluteString)
        let status = response.status
        let retryable = status >= 500 || status == 408 || status == 429
        var message = "\(method) \(shown) answered HTTP \(status)"
        if status == 401 || status == 403 { message += " (credentials refused)" }
        if let snippet = String(data: response.body.prefix(200), encoding: .utf8), !snippet.isEmpty {
            message += ": \(snippet)"
        }
        return DriverError(.httpStatus(status), message, retryable: retryable)
    }

    private static func classify(_ error: URLError, method: String, shown: String, timeout: Double) -> DriverError {
        let prefix = "\(method) \(shown)"
        switch error.code {
        case .timedOut:
            return DriverError(.timeout, "\(prefix) got no response within \(format(timeout)) s", retryable: true)
        case .cannotConnectToHost, .networkConnectionLost, .cannotFindHost, .dnsLookupFailed,
             .notConnectedToInternet, .resourceUnavailable, .badServerResponse, .zeroByteResource:
            return DriverError(.unavailable, "\(prefix) failed: \(describe(error.code)) (URLError \(error.code.rawValue))", retryable: true)
        case .secureConnectionFailed, .serverCertificateHasBadDate, .serverCertificateUntrusted,
             .serverCertificateHasUnknownRoot, .serverCertificateNotYetValid, .clientCertificateRejected,
             .clientCertificateRequired:
            return DriverError(.tls, "\(prefix) failed TLS verification (URLError \(error.code.rawValue))", retryable: false)
        case .badURL, .unsupportedURL:
            return .config("\(prefix): not a usable http(s) URL")
        case .cancelled:
            return DriverError(.cancelled, "\(prefix) was cancelled", retryable: true)
        default:
            // FoundationNetworking reports curl's TLS failures (e.g. a self-signed certificate) as an
            // unknown code whose description is curl's message: recognise them by that text.
            let detail = String(error.localizedDescription.prefix(200))
            let lower = detail.lowercased()
            if lower.contains("ssl") || lower.contains("certificate") || lower.contains("tls") {
                return DriverError(.tls, "\(prefix) failed TLS verification: \(detail)", retryable: false)
            }
            return DriverError(.unavailable, "\(prefix) failed: \(detail) (URLError \(error.code.rawValue))", retryable: true)
        }
    }

    private static func describe(_ code: URLError.Code) -> String {
        switch code {
        case .cannotConnectToHost: "connection refused"
        case .networkConnectionLost: "connection lost"
        case .cannotFindHost, .dnsLookupFailed: "host not found"
        default: "network error"
        }
    }

    private static func format(_ seconds: Double) -> String {
        seconds.rounded() == seconds ? String(Int(seconds)) : String(format: "%.3g", seconds)
    }
}
