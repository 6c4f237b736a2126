import Foundation
import HTTPTypes
import Hummingbird
import LockstepCore
import Logging

/// The web UI: server-rendered pages under `/`, beside the API on the same router, over the same
/// runtime, users and sessions. `APIServer` mounts it with one call (`register`).
///
/// Each page is a route here with the role it needs. A caller without a session is sent to the login
/// page and back; a role too low gets a 403 page saying which role is needed (and the pages never
/// offer the action in the first place); a form post must carry the session's CSRF token and come
/// from this origin. Writes go through the same ops functions as the API and the CLI, audited with
/// the user's name.
struct WebUI: Sendable {
    let env: APIEnvironment
    let authenticator: Authenticator
    let metrics: APIMetrics

    typealias Handler = @Sendable (UIRequest) async throws -> Response

    /// Adds the pages to `router`; returns them as `METHOD /path/:param`.
    func register(_ router: Router<APIRequestContext>) -> [String] {
        let before = router.routes.count
        router.get("/ui/assets/:name") { request, context in
            guard let asset = UIAssets.all[try context.path("name")] else { return Response(status: .notFound) }
            return UIResponse.asset(asset, versioned: request.uri.queryParameters["v"].map(String.init) == asset.hash)
        }
        router.get("/favicon.ico") { _, _ in UIResponse.asset(UIAssets.icon, versioned: false) }
        router.get("/") { _, _ in UIResponse.redirect(UILinks.dags) }

        let login = LoginPage(env: env, authenticator: authenticator)
        router.get(RouterPath(UILinks.login)) { request, _ in try await login.form(request) }
        router.post(RouterPath(UILinks.login)) { request, context in try await login.submit(request, context) }
        page(router, .post, UILinks.logout, role: .viewer) { ui in try await login.logout(ui) }

        let dags = DagsPage(env: env)
        page(router, .get, "/dags", role: .viewer) { ui in try await dags.render(ui) }
        page(router, .post, "/dags/{dag_id}/pause", role: .user) { ui in try await dags.setPaused(ui) }
        let trigger = TriggerPage(env: env)
        page(router, .get, "/dags/{dag_id}/trigger", role: .user) { ui in try await trigger.form(ui) }
        page(router, .post, "/dags/{dag_id}/trigger", role: .user) { ui in try await trigger.submit(ui) }

        let dag = DagPages(env: env)
        page(router, .get, "/dags/{dag_id}", role: .viewer) { ui in try await dag.grid(ui) }
        page(router, .get, "/dags/{dag_id}/runs", role: .viewer) { ui in try await dag.runs(ui) }
        page(router, .get, "/dags/{dag_id}/graph", role: .viewer) { ui in try await dag.graph(ui) }
        page(router, .get, "/dags/{dag_id}/durations", role: .viewer) { ui in try await dag.durations(ui) }
        page(router, .get, "/dags/{dag_id}/code", role: .viewer) { ui in try await dag.code(ui) }

        let runs = RunPages(env: env)
        page(router, .get, "/runs", role: .viewer) { ui in try await runs.list(ui) }
        page(router, .get, "/runs/{run_id}", role: .viewer) { ui in try await runs.run(ui) }
        page(router, .get, "/runs/{run_id}/events", role: .viewer) { ui in try await runs.events(ui) }
        page(router, .post, "/runs/{run_id}/cancel", role: .user) { ui in try await runs.cancel(ui) }
        let logs = TaskLogPage(env: env)
        page(router, .get, "/runs/{run_id}/tasks/{task_id}/tries/{try_number}/log", role: .viewer) { ui in try await logs.render(ui) }
        page(router, .get, "/runs/{run_id}/tasks/{task_id}/tries/{try_number}/log/download", role: .viewer) { ui in try await logs.download(ui) }

        let operate = OperatePages(env: env, groups: SystemRoutes(env: env, metrics: metrics).groups)
        page(router, .get, UILinks.deadLetters, role: .op) { ui in try await operate.deadLetters(ui) }
        page(router, .post, UILinks.redrive, role: .op) { ui in try await operate.redrive(ui) }
        page(router, .get, UILinks.pools, role: .viewer) { ui in try await operate.pools(ui) }
        page(router, .get, UILinks.variables, role: .op) { ui in try await operate.variables(ui) }
        page(router, .get, UILinks.connections, role: .op) { ui in try await operate.connections(ui) }
        page(router, .get, UILinks.audit, role: .op) { ui in try await operate.audit(ui) }
        page(router, .get, UILinks.health, role: .viewer) { ui in try await operate.health(ui) }
        let plans = PlanPages(env: env)
        page(router, .get, UILinks.replay, role: .op) { ui in try await plans.replay(ui) }
        page(router, .post, UILinks.replay, role: .op) { ui in try await plans.replay(ui) }
        page(router, .get, UILinks.backfill, role: .op) { ui in try await plans.backfill(ui) }
        page(router, .post, UILinks.backfill, role: .op) { ui in try await plans.backfill(ui) }
        return router.routes.dropFirst(before).map { "\($0.method.rawValue) \($0.path)" }
    }

    /// A page for callers with `role` or above.
    private func page(_ router: Router<APIRequestContext>, _ method: HTTPRequest.Method, _ path: String, role: Role, _ handler: @escaping Handler) {
        let authenticator = self.authenticator
        let env = self.env
        let metrics = self.metrics
        router.on(RouterPath(RouteTable.hummingbirdPath(path)), method: method) { (request: Request, context: APIRequestContext) -> Response in
            let start = ContinuousClock.now
            var caller: Caller?
            var response: Response
            do {
                do { caller = try await authenticator.caller(request) } catch let problem as Problem where problem.status == .unauthorized {
                    if request.headers[.fragmentRequest] != nil { throw problem }
                    return UIResponse.redirect(UILinks.with(UILinks.login, ["next": request.method == .get ? request.uri.description : nil]))
                }
                try Authenticator.require(role, caller!, action: "this page")
                var form = UIForm(fields: [])
                if method == .post {
                    try UIGuard.checkOrigin(request)
                    form = try await UIForm.read(request, context: context)
                    try UIGuard.checkCSRF(caller!, form)
                }
                response = try await handler(UIRequest(request: request, context: context, caller: caller!, form: form))
            } catch let problem as Problem {
                response = ErrorPage.render(problem, caller: caller.map { UIRequest(request: request, context: context, caller: $0, form: UIForm(fields: [])) },
                                            env: env)
            } catch is CancellationError {
                response = ErrorPage.render(Problem(.serviceUnavailable, "shutting-down", title: "Shutting down", detail: "the server is shutting down; reload in a moment"),
                                            caller: nil, env: env)
            } catch {
                let id = UUID().uuidString.prefix(8)
                env.logger.error("UI \(method) \(path) failed [\(id)]: \(error)")
                response = ErrorPage.render(Problem(.internalServerError, "internal", title: "Internal error",
                                                    detail: "the server could not show this page (error id \(id), in the server log)"),
                                            caller: nil, env: env)
            }
            let seconds = (ContinuousClock.now - start).seconds
            // What the benchmark reads, and what a browser's network panel shows as server time.
            response.headers[.serverTiming] = "app;dur=\(String(format: "%.2f", seconds * 1000))"
            metrics.request(method: method.rawValue, route: path, status: response.status.code, seconds: seconds)
            return response
        }
    }
}
