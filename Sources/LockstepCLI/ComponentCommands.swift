import ArgumentParser
import Foundation
import LockstepHTTP
import LockstepOperators
import LockstepServices
import Logging
import ServiceLifecycle

/// Runs services until SIGTERM or SIGINT, then shuts them down gracefully. Beside them, the process
/// hands memory it freed back to the system (`HeapTrimmer`).
func runServices(_ services: [any Service], logger: Logger) async throws {
    var services = services
    #if os(Linux)
    services.append(HeapTrimmer(logger: logger))
    #endif
    let group = ServiceGroup(
        configuration: .init(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
}

/// Opens the runtime for `component`, runs the services it makes (and its metrics endpoint, when
/// asked for) until a signal, then closes the bus.
func runComponent(
    _ options: RuntimeOptions, _ metrics: MetricsOptions, _ component: String, _ make: (Runtime) throws -> [any Service]
) async throws {
    try await options.withRuntime(component: component) { runtime in
        let (runtime, endpoint) = try metrics.attach(to: runtime)
        try await runServices(try make(runtime) + endpoint, logger: runtime.logger)
    }
}

/// `--metrics HOST:PORT`: the component process's own Prometheus endpoint (`/metrics`, `/health`).
struct MetricsOptions: ParsableArguments {
    @Option(name: .customLong("metrics"), help: "Serve this process's Prometheus metrics on HOST:PORT (/metrics, and /health). Env: LOCKSTEP_METRICS.")
    var address: String?

    /// The runtime counting into the endpoint, and the endpoint as a service; the runtime unchanged
    /// and no service without the flag.
    func attach(to runtime: Runtime) throws -> (Runtime, [any Service]) {
        guard let address = address ?? ProcessInfo.processInfo.environment["LOCKSTEP_METRICS"], !address.isEmpty else { return (runtime, []) }
        let server: ComponentMetricsServer
        do { server = try ComponentMetricsServer(address: address, health: runtime.health, logger: runtime.logger) } catch {
            throw UserFacingError("\(error)")
        }
        var counted = runtime
        counted.metrics = server.componentMetrics
        return (counted, [server])
    }
}

/// `lockstep standalone`: every component in one process (embedded bus and SQLite state by default).
struct StandaloneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "standalone", abstract: "Run scheduler, coordinator, workers, notifier (and the alerter, when alerts are configured) in one process.")
    @OptionGroup var options: RuntimeOptions
    @Option(help: "Task attempts run at once.") var workers: Int = 4
    @Flag(help: "Do not run the scheduler (runs start only from trigger requests).") var noScheduler = false
    @Option(name: .customLong("http"), help: "Serve the API on HOST:PORT (default 127.0.0.1:8080). Env: LOCKSTEP_HTTP.") var http: String?
    @Flag(name: .customLong("no-http"), help: "Do not serve the API.") var noHTTP = false
    @OptionGroup var metrics: MetricsOptions

    func run() async throws {
        try await options.withRuntime(component: "standalone") { runtime in
            let (attached, endpoint) = try metrics.attach(to: runtime)
            var runtime = attached
            // One process: the coordinator knows the worker slots. Unless the config says otherwise,
            // twice as many dispatched-and-not-started attempts keep them busy, and a backfill of
            // one DAG cannot queue its commands ahead of every other DAG's tasks.
            if runtime.config.dispatchWindow == nil { runtime.config.dispatchWindow = 2 * max(1, workers) }
            let reports = options.reportsDirectory(runtime.config)
            var services: [any Service] = [
                Coordinator(runtime: runtime),
                Worker(runtime: runtime, options: .init(concurrency: workers, dataDirectory: options.dataDirectory, reportsDirectory: reports)),
                Worker(runtime: runtime, options: .notifier(dataDirectory: options.dataDirectory, reportsDirectory: reports)),
            ]
            if !noScheduler { services.append(Scheduler(runtime: runtime)) }
            if !runtime.config.alerts.isEmpty { services.append(try makeAlerter(runtime)) }
            if !noHTTP { services.append(try await makeAPIServer(runtime, options: options, http: http, optional: true)) }
            services += endpoint
            runtime.logger.info("standalone: bus \(options.bus), state \(runtime.store.location), \(runtime.dags.count) DAGs, packs \(runtime.registry.packs.joined(separator: ", "))")
            try await runServices(services, logger: runtime.logger)
        }
    }
}

struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scheduler", abstract: "Publish schedule ticks for cron firings.")
    @OptionGroup var options: RuntimeOptions
    @OptionGroup var metrics: MetricsOptions
    func run() async throws {
        try await runComponent(options, metrics, "scheduler") { [Scheduler(runtime: $0)] }
    }
}

struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator", abstract: "Advance runs: consume ticks, requests and results; dispatch tasks. One is active; others stand by.")
    @OptionGroup var options: RuntimeOptions
    @OptionGroup var metrics: MetricsOptions
    func run() async throws {
        try await runComponent(options, metrics, "coordinator") { [Coordinator(runtime: $0)] }
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "Run task attempts from the task-commands topic.")
    @OptionGroup var options: RuntimeOptions
    @Option(help: "Task attempts run at once.") var concurrency: Int = 2
    @OptionGroup var metrics: MetricsOptions
    func run() async throws {
        try await runComponent(options, metrics, "worker") { runtime in
            [Worker(runtime: runtime, options: .init(
                concurrency: concurrency, dataDirectory: options.dataDirectory, reportsDirectory: options.reportsDirectory(runtime.config)))]
        }
    }
}

struct NotifierCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifier", abstract: "Deliver notifications (the training-complete POST); give-ups go to the dead-letter topic.")
    @OptionGroup var options: RuntimeOptions
    @OptionGroup var metrics: MetricsOptions
    func run() async throws {
        try await runComponent(options, metrics, "notifier") { runtime in
            [Worker(runtime: runtime, options: .notifier(
                dataDirectory: options.dataDirectory, reportsDirectory: options.reportsDirectory(runtime.config)))]
        }
    }
}

struct AlerterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerter", abstract: "POST run and task lifecycle events to the webhooks under `alerts:` in the config.")
    @OptionGroup var options: RuntimeOptions
    @OptionGroup var metrics: MetricsOptions
    func run() async throws {
        try await options.withRuntime(component: "alerter") { runtime in
            let (runtime, endpoint) = try metrics.attach(to: runtime)
            guard !runtime.config.alerts.isEmpty else {
                throw UserFacingError("no alerts in \(options.configuration.config); add one under `alerts:` (see the README's Alerts section)")
            }
            try await runServices([try makeAlerter(runtime)] + endpoint, logger: runtime.logger)
        }
    }
}

/// The alerter, or a user-facing error naming the alert whose URL cannot be used.
func makeAlerter(_ runtime: Runtime) throws -> Alerter {
    do { return try Alerter(runtime: runtime) } catch { throw UserFacingError("\(error)") }
}
