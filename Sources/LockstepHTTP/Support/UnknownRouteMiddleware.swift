import Hummingbird

/// Answers a path no route matches with a problem detail too, so every error a client sees has the
/// same shape (Hummingbird's own answer is an empty 404).
struct UnknownRouteMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            guard response.status == .notFound, response.headers[.contentType] == nil else { return response }
            throw Self.problem(request)
        } catch let error as HTTPError where error.status == .notFound {
            throw Self.problem(request)
        }
    }

    private static func problem(_ request: Request) -> Problem {
        Problem.notFound("no-such-route", "no route \(request.method.rawValue) \(request.uri.path); api/openapi.yaml lists every route", field: "path")
    }
}
