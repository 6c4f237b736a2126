import Foundation
import Hummingbird
import LockstepCore
import LockstepServices
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// `lockstep api`: the REST API, metrics and (later) the web UI on Hummingbird, over the state store
/// and the bus of a `Runtime` — never a Kafka client of its own. A `Service` like the components:
/// any number of API processes may share one store, and each publishes ops events like the CLI.
public final class APIServer: Service, Sendable {
    public let configuration: Configuration
    public let runtime: Runtime
    public let users: UserDirectory
    public let metrics: APIMetrics
    /// The routes as documented (method, path template, role), in registration order.
    public let routes: [RouteSpec]
    /// The routes Hummingbird's router holds, as `METHOD /path/:param`, for the OpenAPI check.
    public let routerRoutes: [String]
    /// The web UI's pages and assets, `METHOD /path/:param`: HTML outside /api/v1 and api/openapi.yaml
    /// (docs/ui.md lists them).
    public let pageRoutes: [String]
    private let responder: RouterResponder<APIRequestContext>
    private let runReads: RunReader
    private let observer: BusObserver?
    private let port = Mutex<Int?>(nil)
    private let stopping = StopFlag()

    /// Opens the user directory and run reads on the runtime's store location and builds the routes.
    /// `environment` and `fileConfig` say where variable and connection values come from.
    public init(
        runtime: Runtime, configuration: Configuration = Configuration(),
        environment: [String: String] = ProcessInfo.processInfo.environment, fileConfig: LockstepConfig? = nil,
        mount: @Sendable (Router<APIRequestContext>, APIAccess) -> Void = { _, _ in }
    ) async throws {
        self.runtime = runtime
        self.configuration = configuration
        users = try await UserDirectory(runtime.store.location)
        runReads = try await RunReader(runtime.store.location)
        metrics = APIMetrics(version: SystemRoutes.version)
        metrics.declare(dagIDs: runtime.dags.map(\.id))
        observer = configuration.observeBus ? BusObserver(runtime: runtime, metrics: metrics) : nil
        let signer: TokenSigner
        if let secret = configuration.secret { signer = TokenSigner(secret: secret) } else { signer = TokenSigner(keyBytes: try await users.signingKey()) }
        var secrets = runtime.config.connections.values.compactMap { URLComponents(string: $0)?.password }
        secrets += runtime.config.connections.values.compactMap { URLComponents(string: $0)?.percentEncodedPassword }
        let env = APIEnvironment(
            runtime: runtime, users: users, runs: runReads, json: JSONIO(secrets: secrets), configuration: configuration,
            observer: observer, environment: environment, fileConfig: fileConfig, stopping: stopping)
        let authenticator = Authenticator(users: users, signer: signer, clock: { [clock = runtime.clock] in clock.now })
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: UnknownRouteMiddleware())
        let table = RouteTable(router: router, authenticator: authenticator, logger: runtime.logger, metrics: metrics)
        SystemRoutes(env: env, metrics: metrics).register(table)
        AuthRoutes(env: env, signer: signer).register(table)
        UserRoutes(env: env).register(table)
        DagRoutes(env: env).register(table)
        RunRoutes(env: env).register(table)
        EventRoutes(env: env).register(table)
        LogRoutes(env: env).register(table)
        OpsRoutes(env: env).register(table)
        ConfigRoutes(env: env).register(table)
        AuditRoutes(env: env).register(table)
        StatsRoutes(env: env).register(table)
        mount(router, APIAccess(authenticator: authenticator, runtime: runtime))
        routes = table.specs
        routerRoutes = router.routes.map { "\($0.method.rawValue) \($0.path)" }
        pageRoutes = WebUI(env: env, authenticator: authenticator, metrics: metrics).register(router)
        responder = router.buildResponder()
    }

    /// Serves until graceful shutdown, with the bus observer beside it.
    public func run() async throws {
        let app = Application(
            responder: responder, configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "lockstep"),
            onServerRunning: { [self] channel in self.port.withLock { $0 = channel.localAddress?.port } },
            logger: runtime.logger)
        let observer = self.observer
        let stopping = self.stopping
        // Streams (server-sent events) end first, so the server's graceful shutdown, which waits for
        // every response to finish, does not wait for a browser tab.
        try await withGracefulShutdownHandler {
            try await serve(app, observer)
        } onGracefulShutdown: {
            stopping.stop()
            Task { await observer?.stop() }
        }
        await runReads.close()
        await users.close()
    }

    private func serve(_ app: some ApplicationProtocol, _ observer: BusObserver?) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let observer {
                group.addTask {
                    do { try await observer.run() } catch {
                        // Metrics and liveness stop; the API goes on serving.
                        self.runtime.logger.error("the API's bus observer stopped: \(error)")
                    }
                }
            }
            let configuration = self.configuration
            let logger = runtime.logger
            group.addTask {
                do { try await app.run() } catch where !configuration.bindFailureIsFatal && !Task.isCancelled {
                    logger.error("the API is not serving: \(configuration.host):\(configuration.port) could not be used (\(error)); pass --http HOST:PORT, or --no-http")
                    // The other services of the process go on; this one ends with them.
                    try await gracefulShutdown()
                }
            }
            // The server returns on graceful shutdown; then the observer is stopped.
            try await group.next()
            await observer?.stop()
            try await group.waitForAll()
        }
    }

    /// The port the server listens on, once it does (for `port: 0`).
    public var boundPort: Int? { port.withLock { $0 } }

    /// Waits until the server listens, up to `timeout`.
    public func waitUntilListening(timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let port = boundPort { return port }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw APIServerError("the API server did not start listening on \(configuration.host):\(configuration.port) within \(timeout)")
    }
}

/// What routes mounted beside the API (the web UI) may use: who a request is from, and the runtime.
public struct APIAccess: Sendable {
    let authenticator: Authenticator
    public let runtime: Runtime

    /// The caller of a request (bearer token or session cookie), or a 401 problem.
    public func caller(_ request: Request) async throws -> Caller { try await authenticator.caller(request) }

    /// Refuses a cookie write without its CSRF token (403 problem).
    public func checkCSRF(_ caller: Caller, _ request: Request) throws { try Authenticator.checkCSRF(caller, request) }
}

/// Set once graceful shutdown begins: long-lived responses (log follows) end at their next look.
final class StopFlag: Sendable {
    private let value = Mutex(false)
    func stop() { value.withLock { $0 = true } }
    var isStopping: Bool { value.withLock { $0 } }
}

public struct APIServerError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
