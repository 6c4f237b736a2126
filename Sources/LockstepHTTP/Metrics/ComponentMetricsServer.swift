import Foundation
import Hummingbird
import LockstepServices
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization

/// One component process's own `/metrics` (`lockstep worker --metrics HOST:PORT`, and the other
/// components' same flag): what its components counted (`ComponentMetrics`), their health right now
/// (`ComponentHealth`), and the process's resident memory, CPU time and open files, in Prometheus'
/// text format. Also `GET /health`: 200 while no component waits for a dependency, else 503, with
/// one line per component — a liveness or readiness probe for a container.
///
/// A registry of its own, not swift-metrics' global factory: several in one process (tests) stay
/// apart, and the API's registry never mixes with a component's.
public final class ComponentMetricsServer: Service, Sendable {
    public let host: String
    public let port: Int
    private let registry = PrometheusCollectorRegistry()
    private let health: ComponentHealth
    private let bound = Mutex<Int?>(nil)
    private let logger: Logger

    /// `address` is `HOST:PORT` (port 0: any free one); refused naming the flag and the fix.
    public init(address: String, health: ComponentHealth, logger: Logger) throws {
        do { (host, port) = try APIServer.Configuration.parseAddress(address) } catch {
            throw APIServerError("--metrics \(address) is not HOST:PORT (e.g. 0.0.0.0:9464 or 127.0.0.1:0)")
        }
        self.health = health
        self.logger = logger
        Gauge(label: "lockstep_build_info", dimensions: [("version", SystemRoutes.version)], factory: factory).record(1)
    }

    private var factory: PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        let durations: [Double] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 900, 3600]
        factory.valueHistogramBuckets = [
            ComponentMetrics.attemptDuration: durations,
            ComponentMetrics.commitDuration: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
            ComponentMetrics.batchEvents: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
        ]
        return factory
    }

    /// What the runtime's components count into: give it to `Runtime.metrics` before they start.
    public var componentMetrics: ComponentMetrics { ComponentMetrics(factory: factory) }

    /// The text exposition: the counters, then health and process gauges read now.
    public func render() -> String {
        let factory = self.factory
        for status in health.snapshot() {
            let component = [("component", status.component)]
            Gauge(label: "lockstep_component_waiting", dimensions: component, factory: factory).record(status.isWaiting ? 1 : 0)
            Gauge(label: "lockstep_component_attempts_held", dimensions: component, factory: factory).record(status.holding.count)
        }
        return registry.emitToString() + ProcessFigures.read().exposition
    }

    public var boundPort: Int? { bound.withLock { $0 } }

    public func run() async throws {
        let router = Router()
        router.get("/metrics") { [self] _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: render())))
        }
        router.get("/health") { [self] _, _ in
            let statuses = health.snapshot()
            let lines = statuses.map { "\($0.component): \($0.summary)" }.joined(separator: "\n")
            return Response(
                status: statuses.contains(where: \.isWaiting) ? .serviceUnavailable : .ok,
                headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: lines + "\n")))
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "lockstep-metrics"),
            onServerRunning: { [self] channel in self.bound.withLock { $0 = channel.localAddress?.port } },
            logger: logger)
        logger.info("metrics on http://\(host):\(port)/metrics")
        try await app.run()
    }
}

/// The standard `process_*` figures of Prometheus' client libraries, from /proc/self (Linux).
struct ProcessFigures {
    var residentBytes: Int?
    var cpuSeconds: Double?
    var openFiles: Int?
    var startTime: Double?

    static func read() -> ProcessFigures {
        var figures = ProcessFigures()
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ")
            if fields.count > 1, let pages = Int(fields[1]) { figures.residentBytes = pages * page }
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        // Fields after the command name, which is in parentheses and may hold spaces.
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // fields[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
            if fields.count > 19, let user = Double(fields[11]), let system = Double(fields[12]), let start = Double(fields[19]) {
                figures.cpuSeconds = (user + system) / ticks
                if let uptime = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8).split(separator: " ").first.flatMap({ Double($0) }) {
                    figures.startTime = Date().timeIntervalSince1970 - uptime + start / ticks
                }
            }
        }
        figures.openFiles = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count
        return figures
    }

    var exposition: String {
        var text = ""
        func add(_ name: String, _ type: String, _ help: String, _ value: String?) {
            guard let value else { return }
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        add("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", residentBytes.map(String.init))
        add("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpuSeconds.map { String($0) })
        add("process_open_fds", "gauge", "Number of open file descriptors.", openFiles.map(String.init))
        add("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", startTime.map { String(format: "%.2f", $0) })
        return text
    }
}
