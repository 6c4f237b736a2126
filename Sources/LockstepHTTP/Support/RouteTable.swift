import Foundation
import HTTPTypes
import Hummingbird
import LockstepCore
import Logging

/// One route of the API as documented: method, OpenAPI-style path (`/api/v1/dags/{dag_id}`) and the
/// role it needs (nil: no login). The OpenAPI test compares this table, the router's own and the
/// document.
public struct RouteSpec: Sendable, Hashable, CustomStringConvertible {
    public var method: String
    public var path: String
    public var role: Role?
    public var description: String { "\(method) \(path)" }
}

/// Registers routes on the Hummingbird router with the caller's identity and role checked before the
/// handler runs, CSRF checked on cookie writes, and every error a problem detail.
final class RouteTable: @unchecked Sendable {
    // @unchecked: routes are added while the server is built, on one task, before it serves; after
    // that `specs` is only read.
    let router: Router<APIRequestContext>
    private(set) var specs: [RouteSpec] = []
    private let authenticator: Authenticator
    private let logger: Logger
    private let metrics: APIMetrics

    typealias Handler = @Sendable (Request, APIRequestContext, Caller) async throws -> Response
    typealias PublicHandler = @Sendable (Request, APIRequestContext) async throws -> Response

    init(router: Router<APIRequestContext>, authenticator: Authenticator, logger: Logger, metrics: APIMetrics) {
        self.router = router
        self.authenticator = authenticator
        self.logger = logger
        self.metrics = metrics
    }

    /// A route for callers with `role` or above; `action` names it in a 403 ("triggering a run").
    func add(_ method: HTTPRequest.Method, _ path: String, role: Role, action: String, _ handler: @escaping Handler) {
        let authenticator = self.authenticator
        let isWrite = method != .get && method != .head
        register(method, path, role: role) { request, context in
            let caller = try await authenticator.caller(request)
            try Authenticator.require(role, caller, action: action)
            if isWrite { try Authenticator.checkCSRF(caller, request) }
            return try await handler(request, context, caller)
        }
    }

    /// A route anyone may call (health, version, login).
    func addPublic(_ method: HTTPRequest.Method, _ path: String, _ handler: @escaping PublicHandler) {
        register(method, path, role: nil, handler)
    }

    private func register(_ method: HTTPRequest.Method, _ path: String, role: Role?, _ handler: @escaping PublicHandler) {
        specs.append(RouteSpec(method: method.rawValue, path: path, role: role))
        let logger = self.logger
        let metrics = self.metrics
        router.on(RouterPath(Self.hummingbirdPath(path)), method: method) { request, context in
            let start = ContinuousClock.now
            var status = 500
            defer { metrics.request(method: method.rawValue, route: path, status: status, seconds: (ContinuousClock.now - start).seconds) }
            do {
                var response = try await handler(request, context)
                status = response.status.code
                // For benchmarks and browsers' devtools: the handler's time, without the network.
                response.headers[Self.serverTiming] = String(format: "app;dur=%.3f", (ContinuousClock.now - start).seconds * 1000)
                return response
            } catch let problem as Problem {
                status = problem.status.code
                throw problem
            } catch is CancellationError {
                status = 503
                throw Problem(.serviceUnavailable, "shutting-down", title: "Shutting down", detail: "the server is shutting down; retry")
            } catch {
                // The message may name internals; the client gets an id to quote, the log the error.
                let id = UUID().uuidString.prefix(8)
                logger.error("\(method) \(path) failed [\(id)]: \(error)")
                throw Problem(.internalServerError, "internal", title: "Internal error",
                              detail: "the server could not complete the request (error id \(id), in the server log)")
            }
        }
    }

    static let serverTiming = HTTPField.Name("Server-Timing")!

    /// `{name}` → `:name`.
    static func hummingbirdPath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
        }.joined(separator: "/")
    }
}

extension APIRequestContext {
    /// A path parameter, percent-decoded (run ids hold `@`, `:` and `~`; dead-letter ids hold `/`).
    func path(_ name: String) throws -> String {
        guard let raw = parameters.get(name) else {
            throw Problem.badRequest("missing-parameter", "the path has no `\(name)`", field: name)
        }
        return raw.removingPercentEncoding ?? raw
    }
}
