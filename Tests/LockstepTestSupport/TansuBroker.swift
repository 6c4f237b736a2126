import Foundation

/// A Tansu broker (a Kafka-protocol broker that keeps everything in memory) on a free loopback port.
/// Every start is a clean, empty cluster. Stopped by `stop()`, when released, or at process exit
/// when started with `registerExitCleanup`.
///
/// LockstepTestSupport does not link librdkafka: callers build their own client from `bootstrap`
/// and `clientProperties`, or hand `busURL()` to `lockstep … --bus`.
public final class TansuBroker: @unchecked Sendable {
    public let port: Int
    public let process: ManagedProcess

    /// `127.0.0.1:<port>`, the bootstrap server.
    public var bootstrap: String { "127.0.0.1:\(port)" }

    /// librdkafka client properties for tests on Tansu: faster group joins and fetch turnarounds than
    /// the production defaults (a killed member's partitions move after 6 s instead of 45 s).
    public static let clientProperties: [String: String] = [
        "session.timeout.ms": "6000",
        "heartbeat.interval.ms": "500",
        "fetch.wait.max.ms": "10",
    ]

    /// The `tansu` executable on PATH, else /usr/local/bin (where scripts/install-deps.sh puts it).
    public static var executablePath: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin"
        for dir in path.split(separator: ":").map(String.init) + ["/usr/local/bin"] {
            let candidate = "\(dir)/tansu"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    public static var isAvailable: Bool { executablePath != nil }

    private init(port: Int, process: ManagedProcess) {
        self.port = port
        self.process = process
    }

    /// Starts a broker on a free port and waits until it accepts connections.
    public static func start(timeout: Duration = .seconds(30), registerExitCleanup: Bool = false) async throws -> TansuBroker {
        guard let tansu = executablePath else {
            throw TestSupportError("tansu is not on PATH or in /usr/local/bin: run scripts/install-deps.sh")
        }
        let port = try FreePort.next()
        let url = "tcp://127.0.0.1:\(port)"
        let process = try ManagedProcess(
            name: "tansu", executable: tansu,
            arguments: ["broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"])
        let broker = TansuBroker(port: port, process: process)
        do {
            try await process.waitUntilAccepting(port: port, timeout: timeout)
        } catch {
            process.stop()
            throw error
        }
        if registerExitCleanup { ExitCleanup.register("a Tansu broker") { broker.stop() } }
        return broker
    }

    /// `kafka://127.0.0.1:<port>?prop=value&…` for the CLI's `--bus`, with `clientProperties` unless
    /// others are given.
    public func busURL(properties: [String: String] = TansuBroker.clientProperties) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = properties.sorted { $0.key < $1.key }
            .map { "\($0.key.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.value)" }
            .joined(separator: "&")
        return "kafka://\(bootstrap)" + (query.isEmpty ? "" : "?\(query)")
    }

    public var log: String { process.log }
    public var isRunning: Bool { process.isRunning }

    public func stop() { process.stop() }

    /// Freezes the broker (SIGSTOP): its connections stay open and nothing answers, as with a broker
    /// stalled by a long GC pause, a frozen VM or a network path that silently drops everything.
    public func pause() {
        if process.isRunning { kill(process.pid, SIGSTOP) }
    }

    /// Lets a paused broker go on (SIGCONT).
    public func resume() {
        kill(process.pid, SIGCONT)
    }
}
